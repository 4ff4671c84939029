import { randomUUID } from "node:crypto";
import {
  type Channel,
  DELIVERY_EVENT_VERSION,
  type DeliveryContent,
  type DeliveryEvent,
  digestPassword,
  encrypt,
  generateCode,
  sealContent,
} from "@otp/contracts";
import type { InsertOtpParams } from "@otp/db";
import { withTransaction } from "../db/transaction.js";
import type { DomainDeps } from "./deps.js";
import { checkLimits, type LimitedRequest, type Refusal } from "./rate-limit.js";

export interface IssueRequest extends LimitedRequest {
  /** The client's code; undefined to have one of `codeLength` digits generated. */
  readonly password?: string | undefined;
  readonly codeLength: number;
  readonly lifetimeSeconds: number;
  /** The texts as the client sent them, `{password}` still in place. */
  readonly texts: Omit<DeliveryContent, "password">;
}

/** An accepted OTP's event, ready to publish: `body` is the JSON written to the outbox. */
export interface PendingEvent {
  readonly event: DeliveryEvent;
  readonly body: string;
}

export type IssueOutcome =
  | { readonly accepted: true; readonly id: string; readonly pending: PendingEvent }
  | { readonly accepted: false; readonly refusal: Refusal };

export interface Issuer {
  issue(request: IssueRequest): Promise<IssueOutcome>;
}

/** The OTP row and its outbox event, both built before touching the database. */
interface Prepared {
  readonly pending: PendingEvent;
  readonly row: InsertOtpParams;
}

function prepare(deps: DomainDeps, request: IssueRequest, createdAt: Date): Prepared {
  const id = randomUUID();
  const eventId = randomUUID();
  const generated = request.password === undefined;
  const password = request.password ?? generateCode(request.codeLength);
  const expireAt = new Date(createdAt.getTime() + request.lifetimeSeconds * 1000);
  const event: DeliveryEvent = {
    v: DELIVERY_EVENT_VERSION,
    id: eventId,
    otp_id: id,
    channel: request.channel,
    target: request.target,
    created_at: createdAt.toISOString(),
    expire_at: expireAt.toISOString(),
    sealed: sealContent(deps.keys, { password, ...request.texts }, eventId),
  };
  const body = JSON.stringify(event);
  const row: InsertOtpParams = {
    id,
    channel: request.channel,
    target: request.target,
    ip: request.ip ?? null,
    passwordDigest: digestPassword(deps.keys, password),
    passwordCipher: encrypt(deps.keys, password, id),
    generated,
    createdAt,
    expireAt,
    eventId,
    event: body,
  };
  return { pending: { event, body }, row };
}

const accepted = (prepared: Prepared): IssueOutcome => ({
  accepted: true,
  id: prepared.pending.event.otp_id,
  pending: prepared.pending,
});

/**
 * Creates OTPs. `afterCommit` receives each accepted event once its transaction has committed; it
 * publishes without making the client wait.
 *
 * A channel without limit rules takes the guarded insert (`insertGuarded` in
 * packages/db/src/sql/otp.ts): one statement, no transaction, which does nothing if the channel
 * has rules after all. A channel with rules takes a transaction: `checkLimits` locks and counts,
 * then the plain insert.
 */
export function createIssuer(deps: DomainDeps, afterCommit: (pending: PendingEvent) => void): Issuer {
  const { otp } = deps.sql;
  // Channels seen with rules lately: they skip the guarded insert, which would find rules and do nothing.
  const channelsWithRules = new Set<Channel>();

  function issueUnderRules(request: IssueRequest): Promise<IssueOutcome> {
    return withTransaction(deps.pool, async (client) => {
      const limits = await checkLimits(client, deps, request);
      if (!limits.channelHasRules) channelsWithRules.delete(request.channel);
      if (limits.refusal) return { accepted: false, refusal: limits.refusal };
      const prepared = prepare(deps, request, limits.now);
      await client.query(otp.insert(prepared.row));
      return accepted(prepared);
    });
  }

  return {
    async issue(request) {
      let outcome: IssueOutcome | undefined;
      if (!channelsWithRules.has(request.channel)) {
        const prepared = prepare(deps, request, deps.clock());
        const inserted = await deps.pool.query(otp.insertGuarded(prepared.row));
        if (inserted.rowCount === 1) outcome = accepted(prepared);
        else channelsWithRules.add(request.channel);
      }
      outcome ??= await issueUnderRules(request);
      if (outcome.accepted) afterCommit(outcome.pending);
      return outcome;
    },
  };
}
