import type { ConfirmPublisher, Topology } from "@otp/broker";
import { WEBHOOK_ROUTE } from "@otp/contracts";
import type { Channel, ChannelModel, GetMessage } from "amqplib";
import { settledWithin } from "../consume/hold.js";
import { carriedHeaders } from "../message/headers.js";
import { REPLAYED_AT_HEADER } from "../webhooks/handle-webhook.js";
import { type DeadLetter, type DescribedLetter, describe } from "./describe.js";
import { giveBack } from "./give-back.js";

export type { DeadLetter } from "./describe.js";

export interface ReplayResult {
  readonly replayed: string[];
  readonly skipped: { readonly id: string; readonly why: string }[];
  /** At most one: the replay stops at the first copy the broker does not confirm. */
  readonly failed: { readonly id: string; readonly why: string }[];
}

/** What replay needs from the database: put a failed OTP back to pending (unless expired), and undo that. */
export interface Reopener {
  reopen(otpId: string): Promise<boolean>;
  /** The replay's copy was not confirmed: the OTP is failed again, as its dead letter says. */
  unreopen(otpId: string): Promise<void>;
}

/**
 * Reads the messages of the dead-letter queue (up to `limit`) and leaves them there, as copies
 * (giveBack): the letters in the queue when it starts, so its own copies are not read again.
 */
export async function listDeadLetters(connection: ChannelModel, t: Topology, limit = 10_000): Promise<DeadLetter[]> {
  const ch = await connection.createConfirmChannel();
  ch.on("error", () => {}); // a missing queue closes the channel; the check below reports it
  try {
    const count = await ch
      .checkQueue(t.deadQueue)
      .then((q) => q.messageCount)
      .catch((error: { code?: number; fields?: { replyCode?: number } }) => {
        // Nothing declared under this prefix yet: no dead letters either.
        if (error.code === 404 || error.fields?.replyCode === 404) return 0;
        throw error;
      });
    const read: GetMessage[] = [];
    const out: DeadLetter[] = [];
    for (let i = 0; i < Math.min(count, limit); i++) {
      const message = await ch.get(t.deadQueue, { noAck: false });
      if (message === false) break;
      read.push(message);
      const { event: _event, webhook: _webhook, ...letter } = describe(message);
      out.push(letter);
    }
    await giveBack(ch, t, read);
    return out;
  } finally {
    await closeWithin(ch);
  }
}

/**
 * Closes a channel of the dead-letter queue: what it read and did not ack (not given back, or a
 * failure on the way) goes back to the queue. Not waited for past CLOSE_WAIT_MS: a connection
 * RabbitMQ blocked for an alarm reads no close either; the command's connection close then ends
 * it, which returns the letters all the same.
 */
async function closeWithin(ch: Channel): Promise<void> {
  await settledWithin(ch.close(), CLOSE_WAIT_MS);
}

const CLOSE_WAIT_MS = 2_000;

/** What replay needs to republish: the service's confirmed publisher (mandatory, confirm timeout). */
export type ReplayPublisher = Pick<ConfirmPublisher, "publish">;

export interface ReplayDeps {
  /** For reading the dead-letter queue. */
  readonly connection: ChannelModel;
  readonly publisher: ReplayPublisher;
  readonly topology: Topology;
  readonly store: Reopener;
  readonly now?: () => number;
}

/**
 * Moves dead letters back to their channel's work queue with a fresh attempt counter: the copy is
 * confirmed (and routed) before the dead letter is removed (acked). The OTP goes back to `pending`
 * first, so the dispatcher does not skip the replayed event as "no longer pending"; if the copy is
 * not confirmed, the OTP goes back to `failed`, the dead letter stays, and the replay stops there
 * (the broker is likely unwell; the rest stay too). Events whose code has expired, and messages that
 * are not readable events or webhooks, stay in the dead-letter queue. A webhook goes back to the
 * webhooks' queue with its retry window starting again (docs/webhooks.md, "Dead letters and
 * replay"): the same `webhook-id`, the same body.
 *
 * One run handles the letters that were in the queue when it began, each id at most once: a copy
 * that fails again at once (a `rejected` address, an `unsealable` secret) is dead-lettered behind
 * them within milliseconds, and reading until the queue is empty would replay it again, forever.
 */
export async function replayDeadLetters(
  deps: ReplayDeps,
  select: { readonly ids?: readonly string[]; readonly all?: boolean },
): Promise<ReplayResult> {
  const wanted = new Set(select.ids ?? []);
  const result: ReplayResult = { replayed: [], skipped: [], failed: [] };
  // Messages got and not acked stay with this channel: those not replayed are given back as copies.
  const ch = await deps.connection.createConfirmChannel();
  const kept: GetMessage[] = [];
  ch.on("error", () => {}); // a missing queue closes the channel; the check reports it
  try {
    // The ready messages now: those got and not acked are never handed out again to this channel,
    // and anything dead-lettered from here on is queued behind these (a quorum queue is FIFO).
    const { messageCount } = await ch.checkQueue(deps.topology.deadQueue);
    const replayed = new Set<string>();
    for (let i = 0; i < messageCount; i++) {
      const message = await ch.get(deps.topology.deadQueue, { noAck: false });
      if (message === false) break;
      const letter = describe(message);
      if (!select.all && !wanted.has(letter.id)) {
        kept.push(message);
        continue;
      }
      if (replayed.has(letter.id)) {
        kept.push(message);
        result.skipped.push({ id: letter.id, why: "replayed already in this run" });
        continue;
      }
      const done = await replayOne(deps, message, letter);
      if (done === "replayed") {
        ch.ack(message);
        replayed.add(letter.id);
        result.replayed.push(letter.id);
      } else if ("skipped" in done) {
        kept.push(message);
        result.skipped.push({ id: letter.id, why: done.skipped });
      } else {
        result.failed.push({ id: letter.id, why: done.failed });
        break;
      }
    }
    // After a failure the broker is likely unwell: what was read goes back as the channel closes.
    if (result.failed.length === 0) {
      reportMissing(wanted, result);
      await giveBack(ch, deps.topology, kept);
    }
    return result;
  } finally {
    await closeWithin(ch);
  }
}

/** The ids asked for that the run did not come across (not after a failure: the rest were not looked at). */
function reportMissing(wanted: ReadonlySet<string>, result: ReplayResult): void {
  const seen = new Set([...result.replayed, ...result.skipped.map((s) => s.id)]);
  for (const id of wanted) {
    if (!seen.has(id)) result.skipped.push({ id, why: "not in the dead-letter queue" });
  }
}

type Replayed = "replayed" | { readonly skipped: string } | { readonly failed: string };

/** Publishes one dead letter's copy to its work queue, confirmed; the caller acks the dead letter. */
async function replayOne(deps: ReplayDeps, message: GetMessage, letter: DescribedLetter): Promise<Replayed> {
  const { topology: t, store, publisher, now = Date.now } = deps;
  const headers = carriedHeaders(message.properties.headers as Record<string, unknown> | undefined);
  const { event, webhook } = letter;
  if (webhook) {
    try {
      await publisher.publish(t.exchange, WEBHOOK_ROUTE, message.content, {
        messageId: message.properties.messageId ?? webhook.id,
        headers: { ...headers, [REPLAYED_AT_HEADER]: now() },
      });
      return "replayed";
    } catch (error) {
      return { failed: `not republished: ${(error as Error).message}` };
    }
  }
  if (!event) return { skipped: `not a readable delivery event or webhook (${letter.reason})` };
  if (Date.parse(event.expire_at) <= now()) return { skipped: `the code expired at ${event.expire_at}` };
  const reopened = await store.reopen(event.otp_id);
  try {
    await publisher.publish(t.exchange, event.channel, message.content, {
      messageId: message.properties.messageId ?? event.id,
      headers,
    });
    return "replayed";
  } catch (error) {
    if (reopened) await store.unreopen(event.otp_id);
    return { failed: `not republished: ${(error as Error).message}` };
  }
}
