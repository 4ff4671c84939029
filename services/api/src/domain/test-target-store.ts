import {
  type Channel,
  digestPassword,
  encrypt,
  MAX_TEST_TARGETS,
  TEST_TARGET_MAX_DAYS,
  type TestTargetContent,
  type TestTargetRequest,
} from "@otp/contracts";
import type { LiveTestTargetRow, TestTargetRow } from "@otp/db";
import { withTransaction } from "../db/transaction.js";
import type { DomainDeps } from "./deps.js";
import { fixedCodeOf, testTargetContext } from "./test-targets.js";

type StoreDeps = Pick<DomainDeps, "pool" | "sql" | "keys" | "clock">;

const DAY_MS = 86_400_000;

const contentOf = (row: TestTargetRow): TestTargetContent => ({
  channel: row.channel,
  target: row.target,
  expires_at: row.expires_at.toISOString(),
  created_at: row.created_at.toISOString(),
});

/**
 * `POST /test-targets` (docs/test-targets.md): adds the test target, or replaces the code and
 * expiry of the one already there. Its code is kept as the OTPs' are, an HMAC digest and an AES-GCM
 * ciphertext, never in plaintext. At most MAX_TEST_TARGETS are unexpired at once. An error is a
 * value: the route answers it as a 400.
 */
export async function putTestTarget(
  deps: StoreDeps,
  input: TestTargetRequest,
): Promise<TestTargetContent | { error: string }> {
  const now = deps.clock();
  if (input.expires_at.getTime() <= now.getTime()) return { error: '"expires_at" must be in the future' };
  if (input.expires_at.getTime() > now.getTime() + TEST_TARGET_MAX_DAYS * DAY_MS) {
    return { error: `"expires_at" must be at most ${TEST_TARGET_MAX_DAYS} days ahead` };
  }
  const upsert = deps.sql.testTarget.upsert({
    channel: input.channel,
    target: input.target,
    passwordDigest: digestPassword(deps.keys, input.password),
    passwordCipher: encrypt(deps.keys, input.password, testTargetContext(input.channel, input.target)),
    expiresAt: input.expires_at,
    now,
    max: MAX_TEST_TARGETS,
  });
  const row = await withTransaction(deps.pool, async (client) => {
    await client.query(deps.sql.testTarget.lockForInsert({}));
    return (await client.query<TestTargetRow>(upsert)).rows[0];
  });
  if (!row) return { error: `At most ${MAX_TEST_TARGETS} test targets; delete one first` };
  return contentOf(row);
}

/** A listed test target; `unreadable` when this process cannot read its code. */
export type ListedTestTarget = TestTargetContent & { unreadable?: true };

/**
 * `GET /test-targets`: the unexpired ones, without their codes, each one whose code this process
 * cannot decrypt (stored under another OTP_SECRET) marked `unreadable`, since a create to it is
 * refused (docs/test-targets.md, "After a change of OTP_SECRET").
 */
export async function listTestTargets(deps: StoreDeps): Promise<ListedTestTarget[]> {
  const { rows } = await deps.pool.query<TestTargetRow & Pick<LiveTestTargetRow, "password_cipher">>(
    deps.sql.testTarget.list({ now: deps.clock() }),
  );
  return rows.map((row) =>
    fixedCodeOf(deps.keys, row) === undefined ? { ...contentOf(row), unreadable: true } : contentOf(row),
  );
}

/** `DELETE /test-targets/{channel}/{target}`: whether there was one. */
export async function deleteTestTarget(deps: StoreDeps, channel: Channel, target: string): Promise<boolean> {
  const { rowCount } = await deps.pool.query(deps.sql.testTarget.delete({ channel, target }));
  return (rowCount ?? 0) > 0;
}
