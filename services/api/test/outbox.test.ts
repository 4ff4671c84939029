import { topology } from "@otp/broker";
import { TcpProxy, useTestBroker } from "@otp/broker/testing";
import { type Channel, DeliveryEvent } from "@otp/contracts";
import { useTestDatabase } from "@otp/db/testing";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPhone, startTestApi, type TestApi } from "./support/harness.js";

const db = useTestDatabase();
const broker = useTestBroker("api-outbox");
const t = topology(broker.prefix);
const proxy = new TcpProxy("127.0.0.1", Number(new URL(broker.url).port || 5672));
let api: TestApi; // talks to RabbitMQ directly
let proxied: TestApi; // talks to RabbitMQ through the proxy the tests cut
let inspector: amqp.ChannelModel;

beforeAll(async () => {
  api = await startTestApi({ pg: db(), broker });
  const port = await proxy.start();
  const url = new URL(broker.url);
  url.hostname = "127.0.0.1";
  url.port = String(port);
  proxied = await startTestApi({ pg: db(), broker: { url: url.toString(), prefix: broker.prefix } });
  inspector = await amqp.connect(broker.url);
});
afterAll(async () => {
  await api?.close();
  await proxied?.close();
  await proxy.stop();
  await inspector?.close();
});

async function drainQueue(channel: Channel): Promise<DeliveryEvent[]> {
  const ch = await inspector.createChannel();
  const events: DeliveryEvent[] = [];
  try {
    for (;;) {
      const message = await ch.get(t.workQueue(channel), { noAck: true });
      if (!message) return events;
      events.push(DeliveryEvent.parse(JSON.parse(message.content.toString())));
    }
  } finally {
    await ch.close();
  }
}

const outboxCount = async () => (await api.pool.query("SELECT count(*)::int AS n FROM outbox")).rows[0].n as number;

/** Every row of every table of the test database, as text: what a database dump would show. */
async function dumpDatabase(): Promise<string> {
  const tables = await api.pool.query<{ name: string }>(
    "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) AS name FROM information_schema.tables WHERE table_schema = 'public'",
  );
  const parts: string[] = [];
  for (const { name } of tables.rows) {
    const rows = await api.pool.query(`SELECT row_to_json(x)::text AS r FROM ${name} AS x`);
    parts.push(...rows.rows.map((r) => r.r as string));
  }
  return parts.join("\n");
}

/** The secret as text and as the hex PostgreSQL prints bytea in. */
function expectAbsent(dump: string, secret: string) {
  expect(dump).not.toContain(secret);
  expect(dump).not.toContain(Buffer.from(secret).toString("hex"));
}

describe("the transactional outbox", () => {
  it("publishes each accepted OTP's event after commit and deletes its outbox row", async () => {
    await drainQueue("call");
    const phone = freshPhone();
    const created = await api.call("POST", "/call", { phone, password: "5150", lifetime: 60 });
    const id = (created.body.content as { id: string }).id;
    await expect.poll(outboxCount, { timeout: 5_000 }).toBe(0);
    const events = await drainQueue("call");
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ otp_id: id, channel: "call", target: phone });
  });

  it("after publishing, the database holds no password, code or message text in plaintext", async () => {
    const secrets = {
      password: "Zq9-unique-pass",
      message: "Message text 7f3a9c for the phone",
      subject: "Subject 0b8e21",
      text: "Email body c44d1e",
      html: "<p>Email html 5d0a77</p>",
    };
    const phone = freshPhone();
    await api.call("POST", "/sms", { phone, password: secrets.password, lifetime: 60, message: secrets.message });
    await api.call("POST", "/email", {
      email: "plain@example.com",
      password: secrets.password,
      lifetime: 60,
      subject: secrets.subject,
      text: secrets.text,
      html: secrets.html,
    });
    await api.call("POST", "/telegram", {
      chat_id: 5551,
      password: secrets.password,
      lifetime: 60,
      message: secrets.message,
    });
    const generated = await api.call("POST", "/sms", { phone: freshPhone(), lifetime: 60, message: "Code {password}" });
    expect(generated.status).toBe(200);
    await expect.poll(outboxCount, { timeout: 5_000 }).toBe(0);

    const dump = await dumpDatabase();
    expect(dump).toContain(phone); // the dump does show the rows
    for (const secret of Object.values(secrets)) expectAbsent(dump, secret);
    // The generated code too: read it back the way a back office would, then look for it.
    const generatedPhone = (await api.pool.query("SELECT target FROM otp WHERE generated")).rows[0].target;
    const code = (await api.call("GET", `/password?target=${generatedPhone}`)).body.content as { password: string };
    expect(code.password).toMatch(/^\d{6}$/);
    expectAbsent(dump, code.password);
    for (const channel of ["sms", "email", "telegram"] as const) {
      for (const event of await drainQueue(channel)) {
        const raw = JSON.stringify(event);
        for (const secret of Object.values(secrets)) expect(raw).not.toContain(secret);
      }
    }
  });

  it("while RabbitMQ is unreachable creates still succeed and /health says broker: false; afterwards the relay publishes every event", async () => {
    await drainQueue("sms");
    await proxy.cut();
    await expect.poll(() => proxied.broker.publisher.isReady, { timeout: 5_000 }).toBe(false);
    await expect
      .poll(async () => (await proxied.call("GET", "/health")).body, { timeout: 3_000 })
      .toEqual({ status: false, content: { database: true, broker: false } });

    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const created = await proxied.call("POST", "/sms", {
        phone: freshPhone(),
        password: "1",
        lifetime: 300,
        message: "m",
      });
      expect(created.status).toBe(200);
      ids.push((created.body.content as { id: string }).id);
    }
    expect(await outboxCount()).toBe(12);
    // The rows waiting in the outbox are sealed too.
    const waiting = await api.pool.query("SELECT event::text AS e FROM outbox");
    for (const { e } of waiting.rows) expect(e).not.toMatch(/"password"|"message"/);

    await proxy.restore();
    await expect.poll(outboxCount, { timeout: 15_000 }).toBe(0);
    const events = await drainQueue("sms");
    expect(events.map((e) => e.otp_id).sort()).toEqual([...ids].sort());
    // /health probes at most once a second: it may say what it saw up to a second ago.
    await expect.poll(async () => (await proxied.call("GET", "/health")).status, { timeout: 3_000 }).toBe(200);
  });
});
