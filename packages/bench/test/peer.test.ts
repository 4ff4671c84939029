import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import amqp from "amqplib";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PEER_SCHEMA, peerApp } from "../src/peer/app.js";
import { PeerPublisher } from "../src/peer/publisher.js";

// The peer baseline of `pnpm bench` (docs/performance.md, "The peer") against real PostgreSQL and
// RabbitMQ, served over HTTP as the benchmark loads it (GET with a JSON body).
const database = useTestDatabase();
const broker = useTestBroker("peer");
const queue = `${broker.prefix}.peer.sms`;

let pool: pg.Pool;
let publisher: PeerPublisher;
let inspector: amqp.ChannelModel;
let server: ReturnType<typeof serve>;
let url: string;

beforeAll(async () => {
  const c = database();
  pool = new pg.Pool({ host: c.realHost, port: c.port, user: c.user, password: c.password, database: c.database });
  await pool.query(PEER_SCHEMA);
  publisher = await PeerPublisher.connect(broker.url, queue);
  inspector = await amqp.connect(broker.url);
  const app = peerApp({ pool, publish: publisher.publish, hourlyLimit: 2 });
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve());
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await publisher.close();
  const ch = await inspector.createChannel();
  await ch.deleteQueue(queue);
  await inspector.close();
  await pool.end();
});

const post = (body: object) =>
  fetch(`${url}/sms`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

/** GET with a JSON body, as the benchmark (and the original product's clients) send it. */
async function check(phone: string, password: string): Promise<unknown> {
  const { request } = await import("node:http");
  const body = JSON.stringify({ phone, password });
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/sms/check`,
      { method: "GET", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (res) => {
        let text = "";
        res.on("data", (chunk) => {
          text += chunk;
        });
        res.on("end", () => resolve(JSON.parse(text)));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function queued(): Promise<number> {
  const ch = await inspector.createChannel();
  try {
    return (await ch.checkQueue(queue)).messageCount;
  } finally {
    await ch.close();
  }
}

describe("the peer baseline", () => {
  it("stores the code in plaintext and has the message confirmed in RabbitMQ before it answers", async () => {
    const res = await post({ phone: "77011234567", password: "4321", lifetime: 60, message: "Code 4321" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: true });
    // Already in the queue when the answer arrives: published with a confirm first.
    expect(await queued()).toBe(1);
    const { rows } = await pool.query("SELECT code, target FROM peer_otp WHERE target = '77011234567'");
    expect(rows).toEqual([{ code: "4321", target: "77011234567" }]);
    const ch = await inspector.createChannel();
    const message = await ch.get(queue, { noAck: true });
    await ch.close();
    expect(message && JSON.parse(message.content.toString())).toEqual({
      channel: "sms",
      phone: "77011234567",
      message: "Code 4321",
    });
  });

  it("checks the newest code right and wrong, and writes nothing", async () => {
    await post({ phone: "77011234568", password: "1111", lifetime: 60 });
    await post({ phone: "77011234568", password: "2222", lifetime: 60 });
    const before = await pool.query("SELECT * FROM peer_otp ORDER BY id");
    expect(await check("77011234568", "2222")).toEqual({ status: true });
    expect(await check("77011234568", "1111")).toEqual({ status: false });
    expect(await check("77011234569", "2222")).toEqual({ status: false });
    expect((await pool.query("SELECT * FROM peer_otp ORDER BY id")).rows).toEqual(before.rows);
  });

  it("refuses a create over the hourly limit, with nothing stored and nothing published", async () => {
    await post({ phone: "77011234570", password: "1", lifetime: 60 });
    await post({ phone: "77011234570", password: "2", lifetime: 60 });
    const messages = await queued();
    const res = await post({ phone: "77011234570", password: "3", lifetime: 60 });
    expect(res.status).toBe(429);
    expect(await queued()).toBe(messages);
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM peer_otp WHERE target = '77011234570'");
    expect(rows[0].n).toBe(2);
  });
});
