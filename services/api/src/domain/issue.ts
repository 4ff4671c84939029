import {
  type Channel,
  countryOfPhone,
  DELIVERY_EVENT_VERSION,
  type DeliveryContent,
  type DeliveryEvent,
  digestPassword,
  encrypt,
  generateCode,
  isPolicyChannel,
  MAX_CODE_DRAWS,
  sealContent,
} from "@otp/contracts";
import type { InsertOtpParams, IssueResult, PolicyRecord } from "@otp/db";
import type pg from "pg";
import { withTransaction } from "../db/transaction.js";
import type { DomainDeps } from "./deps.js";
import { newId } from "./ids.js";
import { createPolicedIssue } from "./policy/policed-issue.js";
import { checkLimits, type LimitedRequest, type Refusal } from "./rate-limit.js";
import { carryFailures, type Reused, reusableCode } from "./reuse.js";
import type { TestIssued } from "./test-targets.js";

/** A pool or a client in a transaction: what a statement is sent through. */
type Queryable = Pick<pg.ClientBase, "query">;

export interface IssueRequest extends LimitedRequest {
  /** The client's code; undefined to have one of `codeLength` digits generated. */
  readonly password?: string | undefined;
  readonly codeLength: number;
  readonly lifetimeSeconds: number;
  /** The texts as the client sent them, `{password}` still in place. */
  readonly texts: Omit<DeliveryContent, "password">;
  /** The client's labels (docs/lifecycle.md, "Metadata"); stored, returned and sent in webhooks, never logged. */
  readonly metadata?: Readonly<Record<string, string>> | undefined;
}

/** An accepted OTP's event, ready to publish: `body` is the JSON written to the outbox. */
export interface PendingEvent {
  readonly event: DeliveryEvent;
  readonly body: string;
}

export type IssueOutcome =
  | {
      readonly accepted: true;
      readonly id: string;
      readonly pending: PendingEvent;
      /** Every draw of a generated code was taken by a live code: the last one was issued anyway. */
      readonly crowded?: true;
      readonly test?: undefined;
    }
  | { readonly accepted: false; readonly refusal: Refusal };

/** The channel's limits and the insert, in a transaction; `record` is the policy's, for a policed create. */
export type LimitedInsert = (
  client: pg.ClientBase,
  request: IssueRequest,
  options?: { tryGuarded?: boolean; record?: PolicyRecord },
) => Promise<IssueOutcome>;

export interface Issuer {
  /** A create; to a test target (docs/test-targets.md), accepted with nothing to publish. */
  issue(request: IssueRequest): Promise<IssueOutcome | TestIssued>;
}

/** The OTP row and its outbox event, both built before touching the database. */
interface Prepared {
  readonly pending: PendingEvent;
  readonly row: InsertOtpParams;
}

function prepare(deps: DomainDeps, request: IssueRequest, createdAt: Date, reused?: Reused): Prepared {
  const id = newId();
  const eventId = newId();
  const generated = reused?.generated ?? request.password === undefined;
  const password = reused?.password ?? request.password ?? generateCode(request.codeLength);
  const expireAt = reused?.expireAt ?? new Date(createdAt.getTime() + request.lifetimeSeconds * 1000);
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
    metadata: request.metadata === undefined ? null : JSON.stringify(request.metadata),
    country: isPolicyChannel(request.channel) ? countryOfPhone(request.target) : null,
  };
  return { pending: { event, body }, row };
}

/**
 * Creates OTPs. `afterCommit` receives each accepted event once its transaction has committed; it
 * publishes without making the client wait.
 *
 * A channel without limit rules takes the guarded path (`issue` in packages/db/src/sql/otp.ts with
 * `guarded`): one statement, no transaction, which does nothing if the channel has rules after
 * all. A channel with rules takes a transaction: `checkLimits` locks and counts, then the same
 * statement unguarded. Under OTP_RESEND=reuse every create takes the transaction, which also locks
 * the target and reads its live code before the insert (docs/security.md, "Guessing"). A phone
 * channel whose destination policy is not `off` always takes a transaction, the policy's locks and
 * counts first (`policy/policed-issue.ts`, docs/policy.md).
 *
 * A generated code must be unique among the live codes of its channel (so that `GET /target`
 * names one target): the statement refuses a taken one, and another is drawn, up to
 * MAX_CODE_DRAWS times; the last draw is issued even if taken (`crowded`), since refusing to send
 * codes would be worse than a `GET /target` that answers "not found" for that one code.
 */
export function createIssuer(deps: DomainDeps, afterCommit: (pending: PendingEvent) => void): Issuer {
  const { resend } = deps.guessing;
  const insert = codeInserter(deps);
  // Channels seen with rules lately: they skip the guarded path, which would find rules and do nothing.
  const channelsWithRules = new Set<Channel>();

  /**
   * The limits and the insert, in `client`'s transaction. With `tryGuarded`, a channel not known to
   * have rules first tries the guarded insert, which saves the limits' round trips when it has none.
   */
  const limitedInsert: LimitedInsert = async (client, request, options = {}) => {
    const { record } = options;
    if (options.tryGuarded && resend !== "reuse" && !channelsWithRules.has(request.channel)) {
      const outcome = await insert(client, request, deps.clock(), { guarded: true, record });
      if (outcome) return outcome;
      channelsWithRules.add(request.channel);
    }
    const limits = await checkLimits(client, deps, request);
    if (!limits.channelHasRules) channelsWithRules.delete(request.channel);
    else channelsWithRules.add(request.channel);
    if (limits.refusal) return { accepted: false, refusal: limits.refusal };
    const reused = await reusableCode(deps, client, request, limits.now);
    const outcome = (await insert(client, request, limits.now, { guarded: false, reused, record })) as IssueOutcome;
    if (reused && outcome.accepted) await carryFailures(deps, client, reused, outcome.id);
    return outcome;
  };
  const policed = createPolicedIssue(deps, limitedInsert);

  async function unpoliced(request: IssueRequest): Promise<IssueOutcome> {
    let outcome: IssueOutcome | undefined;
    if (resend !== "reuse" && !channelsWithRules.has(request.channel)) {
      outcome = await insert(deps.pool, request, deps.clock(), { guarded: true });
      if (!outcome) channelsWithRules.add(request.channel);
    }
    return outcome ?? withTransaction(deps.pool, (client) => limitedInsert(client, request));
  }

  return {
    async issue(request) {
      // A test target's create skips limits and policy, and sends nothing (docs/test-targets.md).
      const test = deps.testTargets && (await deps.testTargets.issue(request));
      if (test) return test;
      const policy = await deps.policies.get(request.channel);
      const outcome =
        policy.mode !== "off" && isPolicyChannel(request.channel)
          ? await policed({ ...request, channel: request.channel }, policy)
          : await unpoliced(request);
      if (outcome.accepted) afterCommit(outcome.pending);
      return outcome;
    },
  };
}

/** Inserts an OTP, drawing generated codes until one is unique; undefined when `guarded` found rules. */
function codeInserter(deps: DomainDeps) {
  const { otp, otpPolicy } = deps.sql;
  const supersede = deps.guessing.resend !== "new";
  const maxFailures = deps.otp.maxCheckAttempts;
  return async function insert(
    db: Queryable,
    request: IssueRequest,
    createdAt: Date,
    options: { guarded: boolean; reused?: Reused | undefined; record?: PolicyRecord | undefined },
  ): Promise<IssueOutcome | undefined> {
    const generated = request.password === undefined && options.reused === undefined;
    const run = async (prepared: Prepared, unique: boolean) => {
      const params = { ...prepared.row, guarded: options.guarded, unique, supersede, maxFailures };
      const { rows } = await db.query<{ result: IssueResult }>(
        options.record ? otpPolicy.issueRecorded({ ...params, ...options.record }) : otp.issue(params),
      );
      return rows[0]?.result;
    };
    for (let draw = 1; draw <= (generated ? MAX_CODE_DRAWS : 1); draw++) {
      const prepared = prepare(deps, request, createdAt, options.reused);
      let result = await run(prepared, generated);
      let crowded = false;
      if (result === "duplicate" && draw === MAX_CODE_DRAWS) {
        // Every draw was taken: the last one is issued anyway, without the test.
        result = await run(prepared, false);
        crowded = true;
      }
      if (result === "has_rules") return undefined;
      if (result === "inserted") {
        const outcome = { accepted: true, id: prepared.pending.event.otp_id, pending: prepared.pending } as const;
        return crowded ? { ...outcome, crowded: true } : outcome;
      }
    }
    throw new Error("unreachable: the last draw is inserted without the uniqueness test");
  };
}
