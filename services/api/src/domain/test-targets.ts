import {
  type Channel,
  countryOfPhone,
  decrypt,
  digestPassword,
  encrypt,
  type Keyring,
  type Logger,
} from "@otp/contracts";
import type { LiveTestTargetRow, Sql } from "@otp/db";
import type pg from "pg";
import type { Clock } from "../clock.js";
import { withTransaction } from "../db/transaction.js";
import { maskTarget } from "../mask.js";
import { createSnapshotCache } from "../snapshot-cache.js";
import { newId } from "./ids.js";
import type { IssueRequest } from "./issue.js";
import type { Refusal } from "./rate-limit.js";

/**
 * Test targets (docs/test-targets.md), under `OTP_TEST_TARGETS=true`: a create to one inserts an
 * OTP with the target's fixed code, `test` true and its delivery recorded `delivered`, and no
 * outbox delivery row, so nothing is ever sent; it skips limits and the destination policy. Each
 * API process keeps the live test targets in memory, read again as the policies are
 * (snapshot-cache.ts), so a test target added or deleted on another replica is seen within a
 * second, and a create to any
 * other target pays one map lookup. An expired test target stops being special at its
 * `expires_at`, by this process's clock.
 */

/** A create answered for a test target: accepted, nothing to publish. */
export interface TestIssued {
  readonly accepted: true;
  readonly id: string;
  readonly test: true;
  readonly pending?: undefined;
  readonly crowded?: undefined;
}

/** A create to a test target refused: its code cannot be read (see `unreadable`). */
export interface Refused {
  readonly accepted: false;
  readonly refusal: Refusal;
}

export interface TestTargets {
  /**
   * The test OTP created for `request`; a refusal when the target's code cannot be read; undefined
   * when its target is not a live test target.
   */
  issue(request: IssueRequest): Promise<TestIssued | Refused | undefined>;
  /** This process changed the test targets: read them again before the next create. */
  changed(): void;
}

export interface TestTargetDeps {
  readonly pool: pg.Pool;
  readonly sql: Sql;
  readonly keys: Keyring;
  readonly clock: Clock;
  readonly logger: Logger;
  /** `OTP_MAX_CHECK_ATTEMPTS`, for what "live" means when a create supersedes. */
  readonly maxFailures: number;
  /** OTP_RESEND is supersede or reuse: a create closes the target's older live codes. */
  readonly supersede: boolean;
}

/** What a test target's code is sealed to: its channel and target (the row has no id). */
export const testTargetContext = (channel: Channel, target: string): string => `test_target:${channel}:${target}`;

/** A test target's key in the per-process map. */
const keyOf = (channel: string, target: string): string => `${channel}\u0000${target}`;

/**
 * The fixed code of a stored test target, or undefined when it does not decrypt: it was stored
 * under another OTP_SECRET, which invalidates every sealed value (docs/security.md, "Codes at rest
 * and in flight").
 */
export function fixedCodeOf(
  keys: Keyring,
  row: Pick<LiveTestTargetRow, "channel" | "target" | "password_cipher">,
): string | undefined {
  try {
    return decrypt(keys, row.password_cipher, testTargetContext(row.channel, row.target));
  } catch {
    return undefined;
  }
}

export function createTestTargets(deps: TestTargetDeps): TestTargets {
  const cache = createSnapshotCache({
    initial: new Map<string, LiveTestTargetRow>(),
    load: async () => {
      const { rows } = await deps.pool.query<LiveTestTargetRow>(deps.sql.testTarget.live({ now: deps.clock() }));
      return new Map(rows.map((row) => [keyOf(row.channel, row.target), row]));
    },
    logger: deps.logger,
    what: "the test targets",
  });
  const current = () => cache.current();

  return {
    async issue(request) {
      const found = (await current()).get(keyOf(request.channel, request.target));
      const now = deps.clock();
      if (!found || found.expires_at.getTime() <= now.getTime()) return undefined;
      const password = fixedCodeOf(deps.keys, found);
      if (password === undefined) return unreadable(deps, found);
      return insertTestOtp(deps, request, password, now);
    },
    changed() {
      cache.changed();
    },
  };
}

/**
 * The refusal of a create to a test target whose code cannot be read (docs/test-targets.md, "After a
 * change of OTP_SECRET"): sending it as an ordinary create would text a real code to the test
 * number, so nothing is sent until the operator posts the test target again.
 */
function unreadable(deps: TestTargetDeps, found: LiveTestTargetRow): Refused {
  const { channel, target } = found;
  deps.logger.warn(
    { channel, target: maskTarget(target) },
    "a test target's code does not decrypt (stored under another OTP_SECRET?): create refused, post it again",
  );
  const message =
    `This ${channel} test target was stored under another OTP_SECRET and its code cannot be read: ` +
    "post it again (POST /test-targets)";
  return { accepted: false, refusal: { code: "conflict", message } };
}

/** The test OTP of the fixed code `password` and its `otp.created` event, in one transaction. */
async function insertTestOtp(
  deps: TestTargetDeps,
  request: IssueRequest,
  password: string,
  createdAt: Date,
): Promise<TestIssued> {
  const id = newId();
  const phone = request.channel === "sms" || request.channel === "call";
  const params = {
    id,
    channel: request.channel,
    target: request.target,
    passwordDigest: digestPassword(deps.keys, password),
    passwordCipher: encrypt(deps.keys, password, id),
    createdAt,
    expireAt: new Date(createdAt.getTime() + request.lifetimeSeconds * 1000),
    country: phone ? countryOfPhone(request.target) : null,
    metadata: request.metadata === undefined ? null : JSON.stringify(request.metadata),
    supersede: deps.supersede,
    maxFailures: deps.maxFailures,
  };
  await withTransaction(deps.pool, async (client) => {
    const sql = deps.sql.testTarget;
    // Always under the target's lock: the row reads the wrong checks its checks write (insertOtp).
    await client.query(sql.lockTarget(params));
    await client.query(sql.insertOtp(params));
    if (deps.supersede) {
      const { channel, target } = params;
      await client.query(sql.emitSuperseded({ channel, target, at: createdAt, maxFailures: deps.maxFailures }));
    }
    await client.query(sql.emitCreated({ id, at: createdAt, maxFailures: deps.maxFailures }));
  });
  return { accepted: true, id, test: true };
}
