import { TcpProxy } from "@otp/broker/testing";
import { createPool } from "@otp/db";
import { useTestDatabase } from "@otp/db/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import { withTransaction } from "../src/db/transaction.js";

/**
 * PostgreSQL lost while a transaction holds its client between two statements (docs/operations.md,
 * "Outages": 503, never a crash): node-postgres emits `error` on the checked-out client, which the
 * pool no longer listens to.
 */
const db = useTestDatabase();
let proxy: TcpProxy;

beforeAll(() => {
  proxy = new TcpProxy("127.0.0.1", db().port);
});
afterAll(() => proxy?.stop());

it("a connection lost between a transaction's statements fails the transaction, and nothing is thrown uncaught", async () => {
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);
  // Vitest reports an uncaught exception as a failed run; listening first shows it here instead.
  process.on("uncaughtException", onUncaught);
  const port = await proxy.start();
  const pool = createPool({ ...db(), host: "127.0.0.1", port }, { applicationName: "tx-broken", onError: () => {} });
  try {
    const outcome = await withTransaction(pool, async (client) => {
      await client.query("SELECT 1");
      await proxy.cut(); // between two statements: no query is waiting for the error
      await new Promise((r) => setTimeout(r, 200));
      await client.query("SELECT 2");
    }).then(
      () => "committed",
      (error: Error) => error.message,
    );
    expect(outcome).not.toBe("committed");
    expect(uncaught).toEqual([]);
    // The pool is usable again once PostgreSQL is back: the broken client was not returned to it.
    await proxy.restore();
    expect((await pool.query<{ n: number }>("SELECT 3 AS n")).rows[0]?.n).toBe(3);
  } finally {
    process.off("uncaughtException", onUncaught);
    await proxy.restore();
    await pool.end();
  }
});
