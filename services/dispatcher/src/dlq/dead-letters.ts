import type { ConfirmPublisher, Topology } from "@otp/broker";
import { DeliveryEvent } from "@otp/contracts";
import type { ChannelModel, GetMessage } from "amqplib";
import { carriedHeaders, H } from "../message/headers.js";

/** One message of the dead-letter queue, as an operator sees it: never the sealed content. */
export interface DeadLetter {
  readonly id: string;
  readonly channel: string;
  readonly otpId: string | null;
  readonly reason: string;
  readonly attempts: number | null;
  readonly lastError: string | null;
  readonly deadAt: string | null;
  readonly expireAt: string | null;
}

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

function headerString(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return Buffer.isBuffer(value) ? value.toString("utf8") : String(value);
}

function describe(message: GetMessage): DeadLetter & { event: DeliveryEvent | null } {
  const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
  let event: DeliveryEvent | null = null;
  try {
    const parsed = DeliveryEvent.safeParse(JSON.parse(message.content.toString("utf8")));
    if (parsed.success) event = parsed.data;
  } catch {}
  // Messages the broker dead-lettered itself (the work queue's delivery limit) carry only x-death.
  const death = (headers["x-death"] as { reason?: unknown; queue?: unknown }[] | undefined)?.[0];
  const reason = headerString(headers[H.deadReason]) ?? (death ? `broker: ${headerString(death.reason)}` : "unknown");
  const attempts = Number(headers[H.attempts]);
  return {
    id: message.properties.messageId ?? event?.id ?? "(none)",
    channel: headerString(headers[H.channel]) ?? event?.channel ?? "?",
    otpId: event?.otp_id ?? headerString(headers[H.otpId]),
    reason,
    attempts: Number.isFinite(attempts) && headers[H.attempts] !== undefined ? attempts : null,
    lastError: headerString(headers[H.lastError]),
    deadAt: headerString(headers[H.deadAt]),
    expireAt: event?.expire_at ?? null,
    event,
  };
}

/** Reads every message of the dead-letter queue (up to `limit`) without removing any. */
export async function listDeadLetters(connection: ChannelModel, t: Topology, limit = 10_000): Promise<DeadLetter[]> {
  const ch = await connection.createChannel();
  ch.on("error", () => {}); // a missing queue closes the channel; the get below reports it
  try {
    const out: DeadLetter[] = [];
    for (let i = 0; i < limit; i++) {
      const message = await ch
        .get(t.deadQueue, { noAck: false })
        .catch((error: { code?: number; fields?: { replyCode?: number } }) => {
          // Nothing declared under this prefix yet: no dead letters either.
          if (error.code === 404 || error.fields?.replyCode === 404) return false as const;
          throw error;
        });
      if (message === false) break;
      const { event: _event, ...letter } = describe(message);
      out.push(letter);
    }
    return out;
  } finally {
    // Closing the channel gives every message back to the queue.
    await ch.close().catch(() => {});
  }
}

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
 * are not readable events, stay in the dead-letter queue.
 */
export async function replayDeadLetters(
  deps: ReplayDeps,
  select: { readonly ids?: readonly string[]; readonly all?: boolean },
): Promise<ReplayResult> {
  const { topology: t, store, publisher, now = Date.now } = deps;
  const wanted = new Set(select.ids ?? []);
  const result: ReplayResult = { replayed: [], skipped: [], failed: [] };
  // Messages got and not acked stay with this channel until it closes, then go back to the queue.
  const ch = await deps.connection.createChannel();
  ch.on("error", () => {}); // a missing queue closes the channel; the get reports it
  try {
    for (;;) {
      const message = await ch.get(t.deadQueue, { noAck: false });
      if (message === false) break;
      const letter = describe(message);
      if (!select.all && !wanted.has(letter.id)) continue;
      const { event } = letter;
      if (!event) {
        result.skipped.push({ id: letter.id, why: `not a readable delivery event (${letter.reason})` });
        continue;
      }
      if (Date.parse(event.expire_at) <= now()) {
        result.skipped.push({ id: letter.id, why: `the code expired at ${event.expire_at}` });
        continue;
      }
      const reopened = await store.reopen(event.otp_id);
      try {
        await publisher.publish(t.exchange, event.channel, message.content, {
          messageId: message.properties.messageId ?? event.id,
          headers: carriedHeaders(message.properties.headers as Record<string, unknown> | undefined),
        });
      } catch (error) {
        if (reopened) await store.unreopen(event.otp_id);
        result.failed.push({ id: letter.id, why: `not republished: ${(error as Error).message}` });
        break;
      }
      ch.ack(message);
      result.replayed.push(letter.id);
    }
    // After a failure the rest were not looked at: they may well be in the queue.
    if (result.failed.length === 0) {
      const seen = new Set([...result.replayed, ...result.skipped.map((s) => s.id)]);
      for (const id of wanted) {
        if (!seen.has(id)) result.skipped.push({ id, why: "not in the dead-letter queue" });
      }
    }
    return result;
  } finally {
    await ch.close().catch(() => {});
  }
}
