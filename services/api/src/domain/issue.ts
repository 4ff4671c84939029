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
import { statementName, type TableNames } from "@otp/db";
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
  readonly params: unknown[];
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
  const params = [
    id,
    request.channel,
    request.target,
    request.ip ?? null,
    digestPassword(deps.keys, password),
    encrypt(deps.keys, password, id),
    generated,
    createdAt,
    expireAt,
    eventId,
    body,
  ];
  return { pending: { event, body }, params };
}

/**
 * One statement writes the OTP and its outbox event. The guarded form inserts only when the channel
 * has no limit rules at all, which makes the common case a single round trip without a transaction
 * and still sees a rule added a moment ago by any replica.
 */
export function insertStatement(t: TableNames, guarded: boolean): string {
  return `WITH o AS (
  INSERT INTO ${t.otp} (id, channel, target, ip, password_digest, password_cipher, generated, created_at, expire_at)
  SELECT $1::uuid, $2::text, $3::text, $4::text, $5::bytea, $6::bytea, $7::boolean, $8::timestamptz, $9::timestamptz
  ${guarded ? `WHERE NOT EXISTS (SELECT 1 FROM ${t.limitRule} WHERE channel = $2::text)` : ""}
  RETURNING id
)
INSERT INTO ${t.outbox} (id, otp_id, channel, event, created_at)
SELECT $10::uuid, o.id, $2::text, $11::jsonb, $8::timestamptz FROM o
RETURNING id`;
}

/**
 * Creates OTPs (SPEC §2, §3). `afterCommit` receives each accepted event once its transaction has
 * committed; it publishes without making the client wait.
 */
export function createIssuer(deps: DomainDeps, afterCommit: (pending: PendingEvent) => void): Issuer {
  const t = deps.tables;
  const guardedInsert = insertStatement(t, true);
  const guardedName = statementName("insert_guarded", guardedInsert);
  const plainInsert = insertStatement(t, false);
  const plainName = statementName("insert", plainInsert);
  // Channels seen with rules lately: they skip the guarded insert, which would find rules and do nothing.
  const channelsWithRules = new Set<Channel>();

  function issueUnderRules(request: IssueRequest): Promise<IssueOutcome> {
    return withTransaction(deps.pool, async (client) => {
      const limits = await checkLimits(client, deps, request);
      if (!limits.channelHasRules) channelsWithRules.delete(request.channel);
      if (limits.refusal) return { accepted: false, refusal: limits.refusal };
      const prepared = prepare(deps, request, limits.now);
      await client.query({ name: plainName, text: plainInsert, values: prepared.params });
      return { accepted: true, id: prepared.pending.event.otp_id, pending: prepared.pending };
    });
  }

  return {
    async issue(request) {
      let outcome: IssueOutcome | undefined;
      if (!channelsWithRules.has(request.channel)) {
        const prepared = prepare(deps, request, deps.clock());
        const inserted = await deps.pool.query({ name: guardedName, text: guardedInsert, values: prepared.params });
        if (inserted.rowCount === 1) {
          outcome = { accepted: true, id: prepared.pending.event.otp_id, pending: prepared.pending };
        } else {
          channelsWithRules.add(request.channel);
        }
      }
      outcome ??= await issueUnderRules(request);
      if (outcome.accepted) afterCommit(outcome.pending);
      return outcome;
    },
  };
}
