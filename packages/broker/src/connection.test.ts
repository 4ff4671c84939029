import { createServer } from "node:net";
import { afterEach, expect, it } from "vitest";
import { ManagedConnection } from "./connection.js";
import { type Log, silentLog } from "./log.js";

/** A port nothing listens on (the kernel's pick, released at once): connecting is refused. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

interface Attempt {
  readonly at: number;
  readonly address: string;
  readonly retryInMs: number;
}

/** A log that keeps the failed attempts, and everything it was given as text. */
function recordingLog(): { log: Log; attempts: Attempt[]; text: () => string } {
  const attempts: Attempt[] = [];
  const lines: string[] = [];
  const log: Log = {
    ...silentLog,
    warn(obj, msg) {
      lines.push(JSON.stringify(obj), msg ?? "");
      const o = obj as { address: string; retryInMs: number };
      if (msg === "cannot connect to RabbitMQ yet") {
        attempts.push({ at: performance.now(), address: o.address, retryInMs: o.retryInMs });
      }
    },
  };
  return { log, attempts, text: () => lines.join("\n") };
}

const connections: ManagedConnection[] = [];
afterEach(async () => {
  for (const c of connections.splice(0)) await c.close();
});

it("tries the addresses in their order, backing off only once a whole round has failed", async () => {
  const [a, b, c] = [await closedPort(), await closedPort(), await closedPort()];
  const { log, attempts, text } = recordingLog();
  const connection = new ManagedConnection({
    url: [`amqp://u:s3cret@127.0.0.1:${a}`, `amqp://u:s3cret@127.0.0.1:${b}/vh`, `amqp://127.0.0.1:${c}`],
    name: "failover-order",
    log,
    minReconnectDelayMs: 600,
    maxReconnectDelayMs: 600,
  });
  connections.push(connection);
  connection.start();
  await expect.poll(() => attempts.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(6);
  await connection.close();

  const round = [`amqp://u@127.0.0.1:${a}`, `amqp://u@127.0.0.1:${b}/vh`, `amqp://127.0.0.1:${c}`];
  expect(attempts.slice(0, 6).map((x) => x.address)).toEqual([...round, ...round]);
  // The next address at once; the backoff (300–600 ms with these settings) only after the third.
  expect(attempts.slice(0, 6).map((x) => x.retryInMs)).toEqual([0, 0, 600, 0, 0, 600]);
  const gap = (i: number) => (attempts[i] as Attempt).at - (attempts[i - 1] as Attempt).at;
  expect(gap(1)).toBeLessThan(250);
  expect(gap(2)).toBeLessThan(250);
  expect(gap(3)).toBeGreaterThanOrEqual(290);
  expect(text()).not.toContain("s3cret");
  expect(connection.isConnected).toBe(false);
  expect(connection.address).toBeUndefined();
});

it("with one URL, backs off after every failed attempt, as it always has", async () => {
  const { log, attempts } = recordingLog();
  const connection = new ManagedConnection({
    url: `amqp://127.0.0.1:${await closedPort()}`,
    name: "single",
    log,
    minReconnectDelayMs: 400,
    maxReconnectDelayMs: 400,
  });
  connections.push(connection);
  connection.start();
  await expect.poll(() => attempts.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(2);
  await connection.close();
  expect(attempts.slice(0, 2).map((x) => x.retryInMs)).toEqual([400, 400]);
  expect((attempts[1] as Attempt).at - (attempts[0] as Attempt).at).toBeGreaterThanOrEqual(190);
});

it("refuses an empty list of addresses", () => {
  expect(() => new ManagedConnection({ url: [], name: "none", log: silentLog })).toThrow(/at least one URL/);
});
