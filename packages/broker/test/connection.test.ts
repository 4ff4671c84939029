import { afterEach, describe, expect, it, vi } from "vitest";
import { ManagedConnection } from "../src/connection.js";
import { silentLog } from "../src/log.js";
import { useTestBroker } from "../src/testing/index.js";
import { TcpProxy } from "../src/testing/tcp-proxy.js";

const broker = useTestBroker("conn");
const proxies: TcpProxy[] = [];
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.stop();
});

async function throughProxy(options: { heartbeatSeconds?: number } = {}) {
  const target = new URL(broker.url);
  const proxy = new TcpProxy("127.0.0.1", Number(target.port || 5672));
  proxies.push(proxy);
  target.hostname = "127.0.0.1";
  target.port = String(await proxy.start());
  const connection = new ManagedConnection({
    url: target.toString(),
    name: "close-test",
    log: silentLog,
    minReconnectDelayMs: 50,
    maxReconnectDelayMs: 100,
    // Long enough that only close() itself, not a heartbeat or connect timeout, can end the waits.
    heartbeatSeconds: options.heartbeatSeconds ?? 30,
    connectTimeoutMs: 60_000,
    closeTimeoutMs: 500,
  });
  return { proxy, connection };
}

/** Resolves with how long close() took; fails the test rather than hanging it. */
async function timeClose(connection: ManagedConnection): Promise<number> {
  const started = performance.now();
  await Promise.race([
    connection.close(),
    new Promise((_, reject) => setTimeout(() => reject(new Error("close() did not resolve within 5 s")), 5_000)),
  ]);
  return performance.now() - started;
}

/** After close(), the connection makes no further attempt (the proxy would accept it). */
async function expectNoReconnect(proxy: TcpProxy): Promise<void> {
  const before = proxy.accepted;
  await new Promise((r) => setTimeout(r, 400));
  expect(proxy.accepted).toBe(before);
}

describe("ManagedConnection.close() resolves promptly and stops reconnecting", () => {
  it("while the reconnect loop runs against a broker that refuses connections", async () => {
    const { proxy, connection } = await throughProxy();
    await proxy.cut();
    connection.start();
    await new Promise((r) => setTimeout(r, 300)); // a few refused attempts and backoff sleeps
    expect(connection.isConnected).toBe(false);
    expect(await timeClose(connection)).toBeLessThan(1_000);
    await proxy.restore();
    await expectNoReconnect(proxy);
    expect(connection.isConnected).toBe(false);
  });

  it("while a connection is mid-open: the broker took the socket but never answers the handshake", async () => {
    const { proxy, connection } = await throughProxy();
    proxy.blackhole();
    connection.start();
    await expect.poll(() => proxy.accepted).toBe(1);
    expect(await timeClose(connection)).toBeLessThan(1_000);
    await proxy.restore();
    await expectNoReconnect(proxy);
    expect(connection.isConnected).toBe(false);
  });

  it("while a setup hook waits on a broker that stopped answering", async () => {
    const { proxy, connection } = await throughProxy();
    let hookStarted = false;
    await connection.addSetup(async (c) => {
      hookStarted = true;
      proxy.blackhole();
      await c.createChannel(); // never answered
    });
    const connected = vi.fn();
    connection.on("connected", connected);
    connection.start();
    await expect.poll(() => hookStarted).toBe(true);
    expect(await timeClose(connection)).toBeLessThan(1_500);
    await proxy.restore();
    await expectNoReconnect(proxy);
    expect(connected).not.toHaveBeenCalled();
  });

  it("while connected to a broker that stopped answering (no close-ok): the socket is dropped", async () => {
    const { proxy, connection } = await throughProxy();
    const disconnected = vi.fn();
    connection.on("disconnected", disconnected);
    connection.start();
    await connection.waitForConnection(10_000);
    proxy.blackhole();
    // 500 ms close timeout, far from the 30 s heartbeat that would end it otherwise.
    expect(await timeClose(connection)).toBeLessThan(1_500);
    expect(connection.isConnected).toBe(false);
    expect(disconnected).toHaveBeenCalledTimes(1);
    await proxy.restore();
    await expectNoReconnect(proxy);
  });

  it("while connected to a healthy broker: a polite close, no reconnection", async () => {
    const { proxy, connection } = await throughProxy();
    connection.start();
    await connection.waitForConnection(10_000);
    expect(await timeClose(connection)).toBeLessThan(1_000);
    await expectNoReconnect(proxy);
    expect(connection.isConnected).toBe(false);
  });
});

describe("ManagedConnection backs off from a node that drops each connection soon after it is up", () => {
  /**
   * A connection to the broker whose every connection is closed `lifeMs(n)` ms after it is up (n
   * counts from 0); `gaps` are the times from each loss to the next connection.
   */
  function flapping(options: { minReconnectDelayMs: number; maxReconnectDelayMs: number; stableAfterMs?: number }) {
    const lives: number[] = [];
    const gaps: number[] = [];
    const connection = new ManagedConnection({ url: broker.url, name: "flapping", log: silentLog, ...options });
    let lostAt: number | undefined;
    connection.on("connected", (c) => {
      if (lostAt !== undefined) gaps.push(performance.now() - lostAt);
      setTimeout(() => c.close().catch(() => {}), lives.shift() ?? 20);
    });
    connection.on("disconnected", () => {
      lostAt = performance.now();
    });
    return { connection, lives, gaps };
  }

  it("does not start the backoff again after a connection that lived only briefly", async () => {
    // Sleeps of 50–100, 100–200, 200–400, 400–800, then 800–1,600 ms: each lost connection
    // doubles the delay, as a failed connect does. (Restarting it from 100 ms after each
    // connection made every gap 50–100 ms plus the connect, for ever.)
    const { connection, gaps } = flapping({ minReconnectDelayMs: 100, maxReconnectDelayMs: 1_600 });
    try {
      connection.start();
      await expect.poll(() => gaps.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(5);
      expect(gaps[4]).toBeGreaterThanOrEqual(800);
    } finally {
      await connection.close();
    }
  });

  it("starts the backoff again after a connection that stayed up for stableAfterMs", async () => {
    const { connection, lives, gaps } = flapping({
      minReconnectDelayMs: 100,
      maxReconnectDelayMs: 3_200,
      stableAfterMs: 300,
    });
    // Five brief connections, then one of 400 ms: past stableAfterMs.
    lives.push(20, 20, 20, 20, 20, 400);
    try {
      connection.start();
      await expect.poll(() => gaps.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(6);
      expect(gaps[4]).toBeGreaterThanOrEqual(800); // 800–1,600 ms: the backoff had grown …
      expect(gaps[5]).toBeLessThan(800); // … and after the stable connection, 50–100 ms again
    } finally {
      await connection.close();
    }
  });
});
