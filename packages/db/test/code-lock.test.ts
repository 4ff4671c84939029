import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createDb, createPool } from "../src/pool.js";
import { createSql } from "../src/sql/index.js";
import type { IssueParams } from "../src/sql/otp.js";
import { useTestDatabase } from "../src/testing/vitest.js";

/**
 * A generated code is unique among the live codes of its channel, under a lock per channel and code
 * (docs/security.md, "Codes the service generates"). Two creates in transactions (a channel with
 * limit rules, a policed one), each holding the lock of a duplicate it drew and drawing the other's
 * code next, must not deadlock: a code whose lock another create holds counts as taken.
 */

const db = useTestDatabase();
let pool: ReturnType<typeof createPool>;

beforeAll(() => {
  pool = createPool(db(), { applicationName: "code-lock-test", onError: () => {} });
});
afterAll(() => pool?.end());

const now = new Date();
const issue = (digest: string, target: string): IssueParams => ({
  id: randomUUID(),
  channel: "sms",
  target,
  ip: null,
  passwordDigest: Buffer.from(digest),
  passwordCipher: Buffer.from("cipher"),
  generated: true,
  createdAt: now,
  expireAt: new Date(now.getTime() + 300_000),
  eventId: randomUUID(),
  event: "{}",
  guarded: false,
  unique: true,
  supersede: false,
  maxFailures: 5,
  metadata: "{}",
  country: "KZ",
});

it("two creates drawing each other's codes: each finds the other's taken, neither waits, neither fails", async () => {
  const { tables } = createDb(pool, "public");
  const sql = createSql(tables);
  const [a, b] = [await pool.connect(), await pool.connect()];
  try {
    for (const client of [a, b]) {
      await client.query("BEGIN");
      // Fail rather than hang should the second lock be waited for.
      await client.query("SET LOCAL lock_timeout = '3s'");
    }
    const result = async (client: typeof a, digest: string, target: string) =>
      (await client.query<{ result: string }>(sql.otp.issue(issue(digest, target)))).rows[0]?.result;
    // Each inserts a code (holding its lock until commit), then draws the code the other holds.
    expect(await result(a, "code-1", "77010000001")).toBe("inserted");
    expect(await result(b, "code-2", "77010000002")).toBe("inserted");
    const crossed = await Promise.all([result(a, "code-2", "77010000001"), result(b, "code-1", "77010000002")]);
    expect(crossed).toEqual(["duplicate", "duplicate"]);
    expect(await result(a, "code-3", "77010000001")).toBe("inserted");
    await a.query("COMMIT");
    await b.query("COMMIT");
  } finally {
    a.release();
    b.release();
  }
  const { rows } = await pool.query("SELECT password_digest FROM otp ORDER BY password_digest");
  expect(rows.map((r) => r.password_digest.toString())).toEqual(["code-1", "code-2", "code-3"]);
});
