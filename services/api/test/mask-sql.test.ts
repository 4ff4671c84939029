import { createPool } from "@otp/db";
import { useTestDatabase } from "@otp/db/testing";
import type pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { maskTarget } from "../src/mask.js";

/**
 * Webhook payloads mask targets in SQL (`otp_mask_target`), logs in the API (`maskTarget`): one
 * user must look the same in both, and neither may show more (docs/security.md, "Logs").
 */
const db = useTestDatabase();
let pool: pg.Pool;
beforeAll(() => {
  pool = createPool(db(), { applicationName: "mask-sql-test", onError: () => {} });
});
afterAll(() => pool?.end());

it("otp_mask_target masks every kind and length of target as maskTarget does", async () => {
  const targets = [
    ...Array.from({ length: 20 }, (_, i) => "1234567890123456789".concat("0").slice(0, i + 1)),
    "-1001234567890",
    "-100123",
    "foobar@example.com",
    "@example.com",
    "a@b",
    "",
  ];
  const { rows } = await pool.query<{ masked: string[] }>(
    "SELECT array_agg(otp_mask_target(t) ORDER BY n) AS masked FROM unnest($1::text[]) WITH ORDINALITY AS u(t, n)",
    [targets],
  );
  expect(rows[0]?.masked).toEqual(targets.map(maskTarget));
});
