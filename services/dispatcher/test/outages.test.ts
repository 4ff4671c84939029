import { TcpProxy } from "@otp/broker/testing";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { useHarness } from "./support/harness.js";

const h = useHarness("outages");
const proxies: TcpProxy[] = [];
afterAll(async () => {
  for (const p of proxies) await p.stop();
});

async function proxyTo(host: string, port: number): Promise<TcpProxy> {
  const proxy = new TcpProxy(host, port);
  proxies.push(proxy);
  await proxy.start();
  return proxy;
}

const health = async (port: number) => {
  const res = await fetch(`http://127.0.0.1:${port}/health`);
  return { status: res.status, body: (await res.json()) as { content: Record<string, unknown> } };
};

beforeEach(() => {
  h.provider.reset();
});

describe("losing a dependency at run time (one process's connection cut, the servers untouched)", () => {
  it("RabbitMQ: /health says 503, events published meanwhile are delivered once it is back", async () => {
    const amqpUrl = new URL(h.broker.url);
    const proxy = await proxyTo(amqpUrl.hostname, Number(amqpUrl.port || 5672));
    amqpUrl.hostname = "127.0.0.1";
    amqpUrl.port = String(proxy.port);
    const d = await h.start({ RABBITMQ_URL: amqpUrl.toString(), DISPATCHER_CHANNELS: "sms" });
    await expect.poll(async () => (await health(d.port)).status).toBe(200);

    await proxy.cut();
    await expect.poll(async () => (await health(d.port)).status).toBe(503);
    expect((await health(d.port)).body.content).toMatchObject({ broker: false, database: true });
    const events = await Promise.all(
      Array.from({ length: 5 }, (_, i) => h.send({ channel: "sms", target: `7702${i}`, message: "{password}" })),
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(h.provider.requests()).toHaveLength(0);

    await proxy.restore();
    for (const e of events) await expect.poll(() => h.status(e.otp_id), { timeout: 15_000 }).toBe("delivered");
    expect((await health(d.port)).status).toBe(200);
    await d.stop();
  });

  it("PostgreSQL: deliveries wait unacked (no drop, no spin) and go out once it answers again", async () => {
    const pg = h.pgConfig();
    const proxy = await proxyTo(pg.host === "localhost" ? "127.0.0.1" : pg.host, pg.port);
    const d = await h.start({ PG_HOST: "127.0.0.1", PG_PORT: String(proxy.port), DISPATCHER_CHANNELS: "call" });
    await expect.poll(async () => (await health(d.port)).status).toBe(200);

    await proxy.cut();
    await expect.poll(async () => (await health(d.port)).body.content.database, { timeout: 10_000 }).toBe(false);
    expect((await health(d.port)).status).toBe(503);
    const event = await h.send({ channel: "call", target: "77030000000" });
    await new Promise((r) => setTimeout(r, 1_000));
    // Held, not sent and not acked: the status could not be read, so nothing was attempted.
    expect(h.provider.requests()).toHaveLength(0);
    expect(await h.status(event.otp_id)).toBe("pending");

    await proxy.restore();
    await expect.poll(() => h.status(event.otp_id), { timeout: 15_000 }).toBe("delivered");
    expect(h.provider.requests()).toHaveLength(1);
    await expect.poll(async () => (await health(d.port)).status).toBe(200);
    await d.stop();
  });

  it("RabbitMQ cancels the consumer (its queue was deleted): the dispatcher declares it again and consumes", async () => {
    const d = await h.start({ DISPATCHER_CHANNELS: "telegram" });
    await expect.poll(async () => (await health(d.port)).body.content.consuming).toEqual(["telegram"]);
    const ch = await (await h.amqp()).createChannel();
    await ch.deleteQueue(h.t.workQueue("telegram"));
    await ch.close();
    // Back without a reconnection: the queue exists and is consumed again.
    await expect.poll(() => h.messageCount(h.t.workQueue("telegram")).catch(() => -1), { timeout: 10_000 }).toBe(0);
    await expect
      .poll(async () => (await health(d.port)).body.content.consuming, { timeout: 10_000 })
      .toEqual(["telegram"]);
    const event = await h.send({ channel: "telegram", target: "777", message: "{password}" });
    await expect.poll(() => h.status(event.otp_id)).toBe("delivered");
    await d.stop();
  });
});
