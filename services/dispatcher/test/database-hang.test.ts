import { silentLog } from "@otp/broker";
import { TcpProxy } from "@otp/broker/testing";
import { createLogger } from "@otp/contracts";
import { createPool, QueryTimeoutError } from "@otp/db";
import { afterAll, describe, expect, it } from "vitest";
import { holdUntilDone } from "../src/consume/hold.js";
import { StatusStore } from "../src/status/status-store.js";
import { useHarness } from "./support/harness.js";

/**
 * PostgreSQL that stops answering without a word (a host gone, packets dropped, no reset): the
 * TcpProxy between this process and the server keeps every connection open and passes nothing,
 * until restore() drops them and passes traffic again. The server itself is untouched.
 */
const h = useHarness("db-hang");
const proxies: TcpProxy[] = [];
afterAll(async () => {
  for (const p of proxies) await p.stop();
});

async function proxyToPostgres(): Promise<TcpProxy> {
  const pg = h.pgConfig();
  const proxy = new TcpProxy(pg.host === "localhost" ? "127.0.0.1" : pg.host, pg.port);
  proxies.push(proxy);
  await proxy.start();
  return proxy;
}

describe("PostgreSQL stops answering", () => {
  it("a status read held by holdUntilDone fails within the pool's query timeout, is tried again, and works once it answers", async () => {
    const proxy = await proxyToPostgres();
    const pool = createPool(
      { ...h.pgConfig(), host: "127.0.0.1", port: proxy.port },
      { applicationName: "db-hang-test", onError: () => {}, queryTimeoutMs: 300 },
    );
    const store = new StatusStore(pool, "public", 5);
    const { otp_id } = await h.createOtp({ channel: "sms", target: "77011234567" });
    expect(await store.lookup(otp_id)).toEqual({ status: "pending", canceled: false }); // a pooled connection

    proxy.blackhole();
    const errors: unknown[] = [];
    let tries = 0;
    const log = { ...silentLog, warn: (obj: object) => errors.push((obj as { err: unknown }).err) };
    const held = holdUntilDone(
      "read the delivery status",
      () => {
        tries++;
        return store.lookup(otp_id);
      },
      new AbortController().signal,
      log,
      { minDelayMs: 50, maxDelayMs: 200 },
    );
    // Tried again while PostgreSQL still does not answer: the first read failed, it did not hang.
    await expect.poll(() => tries, { timeout: 5_000 }).toBeGreaterThanOrEqual(2);
    expect(errors[0]).toBeInstanceOf(QueryTimeoutError);

    await proxy.restore();
    await expect(held).resolves.toEqual({ status: "pending", canceled: false });
    await pool.end();
  });

  it("a dispatcher (default settings) gives up its stuck status read, holds the delivery, and makes it once PostgreSQL answers", async () => {
    const proxy = await proxyToPostgres();
    const lines: string[] = [];
    const log = createLogger("otp-dispatcher", "warn", { write: (line: string) => void lines.push(line) });
    await h.start({ PG_HOST: "127.0.0.1", PG_PORT: String(proxy.port), DISPATCHER_CHANNELS: "sms" }, { log });
    h.provider.reset();
    const warm = await h.send({ channel: "sms", target: "77011234567", message: "{password}" });
    await expect.poll(() => h.status(warm.otp_id)).toBe("delivered"); // the pool holds connections now

    proxy.blackhole();
    const event = await h.send({ channel: "sms", target: "77011234568", message: "{password}" });
    // Its status read hangs on a pooled connection; within the batch timeout (10 s) it fails and
    // is tried again — while PostgreSQL still answers nothing.
    const heldLine = () => lines.find((l) => l.includes("cannot read the delivery status yet"));
    await expect.poll(heldLine, { timeout: 20_000 }).toBeDefined();
    expect(heldLine()).toContain("BatchTimeoutError");
    expect(h.provider.requests()).toHaveLength(1);

    await proxy.restore();
    await expect.poll(() => h.status(event.otp_id), { timeout: 15_000 }).toBe("delivered");
    expect(h.provider.requests()).toHaveLength(2);
  }, 60_000);
});
