import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import type { PgConfig } from "@otp/contracts";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool, QueryTimeoutError } from "./pool.js";

/**
 * A peer that accepts a connection and then never answers again, as a server that died or a
 * network that drops packets looks to a client: it speaks just enough of PostgreSQL's protocol to
 * let a client connect (AuthenticationOk, ReadyForQuery) and reads every query without a reply.
 */
let server: Server;
const open = new Set<Socket>();

beforeAll(async () => {
  server = createServer((socket) => {
    open.add(socket);
    socket.on("close", () => open.delete(socket));
    socket.on("error", () => {});
    socket.once("data", () => {
      socket.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0])); // R: AuthenticationOk
      socket.write(Buffer.from([0x5a, 0, 0, 0, 5, 0x49])); // Z: ReadyForQuery, idle
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
});
afterAll(async () => {
  for (const socket of open) socket.destroy();
  server.close();
});

function silentPool(queryTimeoutMs?: number, configured = 60_000): pg.Pool {
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  const config: PgConfig = {
    host: "127.0.0.1",
    realHost: "127.0.0.1",
    port: address.port,
    database: "otp",
    schema: "public",
    user: "postgres",
    password: "",
    poolMax: 2,
    queryTimeoutMs: configured,
  };
  return createPool(config, { applicationName: "pool-test", onError: () => {}, queryTimeoutMs });
}

describe("a pool whose server stops answering", () => {
  it("fails a query after the query timeout, as an unavailable database, and closes its connection", async () => {
    const pool = silentPool(200);
    const started = Date.now();
    const error = await pool.query("SELECT 1").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryTimeoutError);
    expect(error).toMatchObject({ code: "ETIMEDOUT", message: "PostgreSQL did not answer within 200 ms" });
    expect(Date.now() - started).toBeLessThan(2_000);
    await expect.poll(() => open.size).toBe(0);
    expect(pool.totalCount).toBe(0);
    await pool.end();
  });

  it("on a client taken from the pool (a transaction) too: its next query fails at once, not after another wait", async () => {
    const pool = silentPool(1_000);
    const client = await pool.connect();
    await expect(client.query("BEGIN")).rejects.toBeInstanceOf(QueryTimeoutError);
    const started = Date.now();
    await expect(client.query("ROLLBACK")).rejects.toThrow("not queryable");
    expect(Date.now() - started).toBeLessThan(500);
    client.release();
    await expect.poll(() => open.size).toBe(0);
    expect(pool.totalCount).toBe(0);
    await pool.end();
  });

  it("by default: every query is bounded by PG_QUERY_TIMEOUT, and idle connections are probed (TCP keepalive)", async () => {
    const pool = silentPool(undefined, 300);
    expect(pool.options).toMatchObject({ query_timeout: 300, keepAlive: true });
    expect(pool.options.keepAliveInitialDelayMillis).toBeGreaterThan(0);
    const started = Date.now();
    await expect(pool.query("SELECT 1")).rejects.toMatchObject({ message: "PostgreSQL did not answer within 300 ms" });
    expect(Date.now() - started).toBeLessThan(2_000);
    await pool.end();
  });
});
