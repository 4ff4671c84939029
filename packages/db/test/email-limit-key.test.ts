import { emailLimitKey } from "@otp/contracts";
import { useTestDatabase } from "@otp/db/testing";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool } from "../src/pool.js";
import { createTables, EMAIL_LIMIT_KEY_SQL } from "../src/schema.js";
import { createSql } from "../src/sql/index.js";

/**
 * Under OTP_EMAIL_CANONICAL the API locks the key `emailLimitKey` computes and counts the rows
 * whose `EMAIL_LIMIT_KEY_SQL` equals it: the two must agree on every address, or a lock would not
 * cover the rows it counts.
 */
const db = useTestDatabase();
let pool: pg.Pool;
beforeAll(() => {
  pool = createPool(db(), { applicationName: "email-limit-key-test", onError: () => {} });
});
afterAll(() => pool?.end());

const ADDRESSES = [
  "foo@example.com",
  "foo+tag@example.com",
  "foo+a+b@example.com",
  "foo+@example.com",
  "+tag@example.com",
  "+@example.com",
  "a.b-c_d+x.y@sub.example.co",
  "ünï+cødé@exämple.com",
  "x@y",
  "no-at-sign+tag",
];

describe("the email limit key", () => {
  it("is the same in SQL as in TypeScript", async () => {
    const { rows } = await pool.query<{ target: string; key: string }>(
      `SELECT target, ${EMAIL_LIMIT_KEY_SQL} AS key FROM unnest($1::text[]) AS t(target)`,
      [ADDRESSES],
    );
    expect(rows.map((r) => [r.target, r.key])).toEqual(ADDRESSES.map((a) => [a, emailLimitKey(a)]));
  });

  it("is counted through its partial index", async () => {
    const sql = createSql(createTables("public"));
    const query = sql.otpWindows.countWindows({
      channel: "email",
      ip: undefined,
      target: "foo@example.com",
      targetKey: "emailLimitKey",
      cutoffs: { ip: [], target: [new Date(Date.now() - 600_000)] },
    });
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("SET LOCAL enable_seqscan = off");
      const { rows } = await client.query<{ "QUERY PLAN": string }>({
        text: `EXPLAIN ${query.text}`,
        values: query.values,
      });
      await client.query("ROLLBACK");
      expect(rows.map((r) => r["QUERY PLAN"]).join("\n")).toContain("otp_email_limit_key_created_idx");
    } finally {
      client.release();
    }
  });
});
