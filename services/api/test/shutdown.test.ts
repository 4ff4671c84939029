import { connect } from "node:net";
import { Writable } from "node:stream";
import { TcpProxy, useTestBroker } from "@otp/broker/testing";
import { createLogger, FORCE_EXIT_MS } from "@otp/contracts";
import { useTestDatabase } from "@otp/db/testing";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { type RunningApi, startApi } from "../src/server.js";
import { CLOSE_BUDGET_MS } from "../src/shutdown-budget.js";
import { testConfig } from "./support/harness.js";

const db = useTestDatabase();
const broker = useTestBroker("api-shutdown");
const proxy = new TcpProxy("127.0.0.1", Number(new URL(broker.url).port || 5672));
let api: RunningApi | undefined;
let pool: pg.Pool | undefined;
afterAll(async () => {
  await api?.close();
  await proxy.stop();
  await pool?.end();
});

describe("close()", () => {
  it("ends within its budget when everything hangs at once: a request, a relay publish and the broker's close", async () => {
    const port = await proxy.start();
    const url = new URL(broker.url);
    url.hostname = "127.0.0.1";
    url.port = String(port);
    const config = testConfig({ pg: db(), broker: { url: url.toString(), prefix: broker.prefix } });
    const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });
    // The production timings (request drain, relay stop, broker close), except a confirm timeout
    // long enough that only the stop can end the stuck publish.
    const started = await startApi(config, {
      logger: createLogger("otp-api", "info", quiet),
      port: 0,
      broker: { confirmTimeoutMs: 60_000 },
      relay: { intervalMs: 50, graceMs: 0 },
    });
    api = started;
    await started.broker.connection.waitForConnection(10_000);
    let publishes = 0;
    const publish = started.broker.publisher.publish.bind(started.broker.publisher);
    started.broker.publisher.publish = (...args) => {
      publishes++;
      return publish(...args);
    };

    // RabbitMQ stops answering: the relay's publish waits for a confirm, the close for its close-ok.
    proxy.blackhole();
    pool = new pg.Pool({ ...db(), max: 2 });
    await pool.query(
      `INSERT INTO outbox (id, otp_id, channel, event, created_at)
       VALUES (gen_random_uuid(), gen_random_uuid(), 'email', '{}'::jsonb, now() - interval '1 hour')`,
    );
    await expect.poll(() => publishes, { timeout: 5_000 }).toBeGreaterThan(0);

    // A request whose body never finishes keeps its connection busy until the drain cuts it.
    const client = connect(started.port, "127.0.0.1");
    client.on("error", () => {});
    client.write("POST /sms HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{");
    await new Promise((resolve) => setTimeout(resolve, 100));

    const t0 = Date.now();
    await started.close();
    const took = Date.now() - t0;
    client.destroy();
    // Before the shared deadline this took 5 s + 3.5 s + 2 s, past the 9 s force exit.
    expect(took).toBeLessThan(CLOSE_BUDGET_MS + 500);
    expect(took).toBeLessThan(FORCE_EXIT_MS - 1_000);
  });
});
