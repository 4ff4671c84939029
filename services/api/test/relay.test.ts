import { silentLog } from "@otp/broker";
import { tableNames } from "@otp/db";
import { useTestDatabase } from "@otp/db/testing";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { OutboxRelay } from "../src/outbox/relay.js";
import type { EventPublisher } from "../src/outbox/types.js";

const db = useTestDatabase();
let pool: pg.Pool;

beforeAll(() => {
  pool = new pg.Pool({ ...db(), max: 6 });
});
afterAll(() => pool?.end());
beforeEach(() => pool.query("DELETE FROM outbox"));

/** `n` unpublished events, old enough for the relay to take (past its grace period). */
async function backlog(n: number): Promise<void> {
  await pool.query(
    `INSERT INTO outbox (id, otp_id, channel, event, created_at)
     SELECT gen_random_uuid(), gen_random_uuid(), 'email', jsonb_build_object('n', i), now() - interval '1 hour'
     FROM generate_series(1, $1::int) AS i`,
    [n],
  );
}

const outboxCount = async () => (await pool.query("SELECT count(*)::int AS n FROM outbox")).rows[0].n as number;

function relayWith(publisher: EventPublisher, options: { batchSize?: number; stopTimeoutMs?: number } = {}) {
  return new OutboxRelay({
    pool,
    tables: tableNames("public"),
    publisher,
    exchange: "unused",
    clock: () => new Date(),
    log: silentLog,
    intervalMs: 20,
    ...options,
  });
}

describe("OutboxRelay.stop()", () => {
  it("returns within its timeout while a publish hangs, and leaves the rows for the next relay", async () => {
    await backlog(3);
    let publishes = 0;
    // A broker that took the message and never confirms it, as after a connection silently lost.
    const stuck: EventPublisher = {
      isReady: true,
      publish: () => {
        publishes++;
        return new Promise<void>(() => {});
      },
    };
    const relay = relayWith(stuck, { stopTimeoutMs: 300 });
    relay.start();
    await expect.poll(() => publishes, { timeout: 5_000 }).toBe(3);

    const started = Date.now();
    const outcome = await Promise.race([
      relay.stop(),
      new Promise((resolve) => setTimeout(() => resolve("still waiting after 3 s"), 3_000)),
    ]);
    expect(outcome).toBe("abandoned");
    expect(Date.now() - started).toBeLessThan(1_500);

    // The abandoned pass rolled back: its rows are unlocked and still there.
    expect(await outboxCount()).toBe(3);
    const claimable = await pool.query("SELECT id FROM outbox FOR UPDATE SKIP LOCKED");
    expect(claimable.rowCount).toBe(3);
  });

  it("says `finished` when no pass is in progress", async () => {
    const relay = relayWith({ isReady: true, publish: async () => {} });
    relay.start();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await relay.stop(300)).toBe("finished");
  });
});
