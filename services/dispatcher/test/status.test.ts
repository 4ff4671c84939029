import { randomUUID } from "node:crypto";
import { createPool } from "@otp/db";
import { useTestDatabase } from "@otp/db/testing";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StatusStore } from "../src/status/status-store.js";

const pgConfig = useTestDatabase();
let pool: pg.Pool;
let store: StatusStore;

beforeAll(() => {
  pool = createPool(pgConfig(), { applicationName: "status-tests", onError: () => {} });
  store = new StatusStore(pool, "public", 5);
});
afterAll(() => pool.end());

async function otp(expireInMs = 60_000): Promise<string> {
  const id = randomUUID();
  await pool.query(
    `INSERT INTO otp (id, channel, target, password_digest, password_cipher, created_at, expire_at)
     VALUES ($1, 'sms', '1', '\\x00', '\\x00', now(), now() + $2 * interval '1 millisecond')`,
    [id, expireInMs],
  );
  return id;
}

const row = async (id: string) =>
  (
    await pool.query(
      "SELECT delivery_status AS status, delivery_attempts AS attempts, delivery_last_error AS error, delivered_at FROM otp WHERE id = $1",
      [id],
    )
  ).rows[0];

describe("StatusStore: idempotent, never regresses a final status", () => {
  it("counts attempts, keeps the last error, and records the delivery time once", async () => {
    const id = await otp();
    expect(await store.record(id, { status: "pending", attempted: true, error: "HTTP 503" })).toBe("pending");
    expect(await store.record(id, { status: "delivered", attempted: true, error: null })).toBe("delivered");
    const first = await row(id);
    expect(first).toMatchObject({ status: "delivered", attempts: 2, error: "HTTP 503" });
    // A duplicate delivered later changes nothing but the count of attempts.
    expect(await store.record(id, { status: "delivered", attempted: true, error: null })).toBe("delivered");
    expect(await store.record(id, { status: "failed", attempted: true, error: "rejected: HTTP 400" })).toBe(
      "delivered",
    );
    expect(await store.record(id, { status: "expired", attempted: false, error: null })).toBe("delivered");
    const after = await row(id);
    expect(after).toMatchObject({ status: "delivered", error: "HTTP 503" });
    expect(after.delivered_at).toEqual(first.delivered_at);
  });

  it("failed and expired are reached from pending only; a real delivery wins over them", async () => {
    const id = await otp();
    expect(await store.record(id, { status: "failed", attempted: true, error: "rejected: HTTP 400" })).toBe("failed");
    expect(await store.record(id, { status: "expired", attempted: false, error: null })).toBe("failed");
    expect(await store.record(id, { status: "pending", attempted: true, error: "HTTP 500" })).toBe("failed");
    expect(await store.record(id, { status: "delivered", attempted: true, error: null })).toBe("delivered");
  });

  it("batches concurrent calls, the same OTP twice included, and answers each caller", async () => {
    const ids = await Promise.all(Array.from({ length: 50 }, () => otp()));
    const same = ids[0] as string;
    const results = await Promise.all([
      ...ids.map((id) => store.record(id, { status: "pending", attempted: true, error: "x" })),
      store.record(same, { status: "pending", attempted: true, error: "y" }),
      store.lookup(same),
      store.lookup(randomUUID()),
      store.record(randomUUID(), { status: "delivered", attempted: true, error: null }),
    ]);
    expect(results.slice(0, 51)).toEqual(Array(51).fill("pending"));
    expect(results[51]).toMatchObject({ status: "pending" });
    expect(results[52]).toBeUndefined();
    expect(results[53]).toBeUndefined();
    expect((await row(same)).attempts).toBe(2);
  });

  it("reopen (dlq replay) puts failed back to pending unless expired; unreopen undoes it", async () => {
    const live = await otp();
    const gone = await otp(-1_000);
    for (const id of [live, gone]) await store.record(id, { status: "failed", attempted: true, error: "e" });
    expect(await store.reopen(live)).toBe(true);
    expect(await store.reopen(gone)).toBe(false);
    expect((await row(live)).status).toBe("pending");
    expect((await row(gone)).status).toBe("failed");
    // A replay whose copy was not confirmed undoes its reopen; never touches a delivered OTP.
    await store.unreopen(live);
    expect((await row(live)).status).toBe("failed");
    const delivered = await otp();
    await store.record(delivered, { status: "delivered", attempted: true, error: null });
    await store.unreopen(delivered);
    expect((await row(delivered)).status).toBe("delivered");
  });
});
