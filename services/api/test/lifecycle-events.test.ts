import { topology } from "@otp/broker";
import { useTestBroker } from "@otp/broker/testing";
import { createLogger, WEBHOOK_ROUTE, WebhookMessage } from "@otp/contracts";
import { createSql, createTables } from "@otp/db";
import { useTestDatabase } from "@otp/db/testing";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { maskTarget } from "../src/mask.js";
import { ExpirySweeper } from "../src/sweeper.js";
import { testClock } from "./support/clock.js";
import { freshPhone, startTestApi, type TestApi } from "./support/harness.js";
import { checkById, checkSms, KEEP_OUTBOX, sendSms, subscribe, typesOf, webhookEvents } from "./support/lifecycle.js";

/**
 * Every lifecycle event the API emits (docs/lifecycle.md, "Events"), read where it is written: the
 * outbox, in the transaction of the state change. Each is there exactly once, with the OTP's id,
 * its masked target and its state, and never a code.
 */

const db = useTestDatabase();
const broker = useTestBroker("api-lifecycle-events");
let api: TestApi;
/** OTP_SINGLE_USE and OTP_RESEND=supersede, on the same database. */
let strict: TestApi;

beforeAll(async () => {
  api = await startTestApi({ pg: db(), broker, relay: KEEP_OUTBOX });
  strict = await startTestApi({
    pg: db(),
    broker,
    relay: KEEP_OUTBOX,
    clock: api.clock,
    env: { OTP_SINGLE_USE: "true", OTP_RESEND: "supersede" },
  });
});
afterAll(async () => {
  await api?.close();
  await strict?.close();
});

const silent = createLogger("otp-api-test", "silent");

/** The one event of `type` about `otp`, failing unless there is exactly one. */
async function only(otpId: string, type: string): Promise<WebhookMessage> {
  const events = await webhookEvents(api, { otpId, type });
  expect(events.map((e) => e.type)).toEqual([type]);
  return WebhookMessage.parse(events[0]);
}

describe("without a subscription", () => {
  it("writes no event, and an expiry from before a subscription is nobody's event", async () => {
    const phone = freshPhone();
    const early = await sendSms(api, phone, "123456", { lifetime: 10 });
    await checkSms(api, phone, "000000");
    api.clock.advance(11_000);
    expect(await api.expirySweeper.sweep()).toBe(0);
    expect(await webhookEvents(api)).toEqual([]);
    // Nothing written for it either, not even the sweep's progress.
    expect((await api.pool.query("SELECT count(*)::int AS n FROM expiry_sweep")).rows[0].n).toBe(0);
    await subscribe(api);
    const late = await sendSms(api, freshPhone(), "123456", { lifetime: 10 });
    api.clock.advance(11_000);
    expect(await api.expirySweeper.sweep()).toBe(1);
    expect(await typesOf(api, early)).toEqual([]);
    expect(await typesOf(api, late)).toEqual(["otp.created", "otp.expired"]);
  });
});

describe("with a subscription to otp.*", () => {
  it("otp.created: the OTP's state, masked target, country and metadata, never the code", async () => {
    const phone = freshPhone();
    const id = await sendSms(api, phone, "913579", { metadata: { order: "A-42" } });
    const event = await only(id, "otp.created");
    expect(event).toMatchObject({ otp_id: id, payload: { type: "otp.created" } });
    expect(event.payload.data).toMatchObject({
      otp_id: id,
      channel: "sms",
      target: maskTarget(phone),
      country: "KZ",
      metadata: { order: "A-42" },
      test: false,
      delivery: { status: "pending", attempts: 0, delivered_at: null },
      verification: { status: "pending", reason: null, attempts_left: 5, expires_in: 600, verified_at: null },
    });
    const text = JSON.stringify(event);
    expect(text).not.toContain("913579");
    expect(text).not.toContain(phone);
  });

  it("otp.verified once, at the first right check", async () => {
    const phone = freshPhone();
    const id = await sendSms(api, phone, "123456");
    await checkSms(api, phone, "123456");
    await checkById(api, id, "123456");
    const event = await only(id, "otp.verified");
    expect(event.payload.data).toMatchObject({ verification: { status: "approved" } });
    expect(await typesOf(api, id)).toEqual(["otp.created", "otp.verified"]);
  });

  it("otp.check_failed: one per wrong check, for the newest live code, or the id checked", async () => {
    const phone = freshPhone();
    const older = await sendSms(api, phone, "111111");
    const newer = await sendSms(api, phone, "222222");
    await checkSms(api, phone, "999999");
    expect((await only(newer, "otp.check_failed")).payload.data).toMatchObject({
      verification: { status: "pending", attempts_left: 4 },
    });
    expect(await typesOf(api, older)).toEqual(["otp.created"]);
    await checkById(api, older, "222222");
    expect((await only(older, "otp.check_failed")).payload.data).toMatchObject({
      verification: { attempts_left: 3 },
    });
  });

  it("otp.max_attempts_reached once, when the wrong checks kill the code; nothing for refused checks", async () => {
    const phone = freshPhone();
    const id = await sendSms(api, phone, "123456");
    for (let i = 0; i < 5; i++) await checkSms(api, phone, `00000${i}`);
    expect((await checkSms(api, phone, "123456")).body.status_code).toBe("attempts_exceeded");
    const types = await typesOf(api, id);
    expect(types.filter((t) => t === "otp.check_failed")).toHaveLength(5);
    expect(types.filter((t) => t === "otp.max_attempts_reached")).toHaveLength(1);
    expect((await only(id, "otp.max_attempts_reached")).payload.data).toMatchObject({
      verification: { status: "max_attempts_reached", attempts_left: 0 },
    });
  });

  it("a wrong check by id of a code no longer live still counts, and says so: otp.check_failed for the newest live code", async () => {
    const phone = freshPhone();
    const canceled = await sendSms(api, phone, "111111");
    await api.call("DELETE", `/otp/${canceled}`);
    const live = await sendSms(api, phone, "222222");
    await checkById(api, canceled, "999999");
    expect((await only(live, "otp.check_failed")).payload.data).toMatchObject({
      verification: { status: "pending", attempts_left: 4 },
    });
    expect(await typesOf(api, canceled)).toEqual(["otp.created", "otp.canceled"]);
  });

  it("an approved code stays approved: wrong checks after its verification send no otp.max_attempts_reached", async () => {
    const phone = freshPhone();
    const id = await sendSms(api, phone, "123456");
    await checkSms(api, phone, "123456");
    for (let i = 0; i < 5; i++) await checkSms(api, phone, `00000${i}`);
    const types = await typesOf(api, id);
    expect(types.filter((t) => t === "otp.check_failed")).toHaveLength(5);
    expect(types).not.toContain("otp.max_attempts_reached");
    const status = (await api.call("GET", `/otp/${id}`)).body.content as { verification: { status: string } };
    expect(status.verification.status).toBe("approved");
  });

  it("otp.canceled once for a DELETE, the second DELETE writes nothing", async () => {
    const id = await sendSms(api, freshPhone(), "123456");
    await api.call("DELETE", `/otp/${id}`);
    await api.call("DELETE", `/otp/${id}`);
    expect((await only(id, "otp.canceled")).payload.data).toMatchObject({
      verification: { status: "canceled", reason: "canceled" },
    });
  });

  it("otp.canceled for a superseded code and a sibling consumed, with their reasons", async () => {
    const phone = freshPhone();
    const first = await sendSms(strict, phone, "111111");
    const second = await sendSms(strict, phone, "222222");
    expect((await only(first, "otp.canceled")).payload.data).toMatchObject({
      verification: { status: "canceled", reason: "superseded" },
    });
    const other = freshPhone();
    const a = await sendSms(api, other, "333333");
    const b = await sendSms(api, other, "444444");
    await checkSms(strict, other, "444444");
    expect((await only(a, "otp.canceled")).payload.data).toMatchObject({
      verification: { status: "canceled", reason: "sibling_consumed" },
    });
    expect(await typesOf(api, b)).toEqual(["otp.created", "otp.verified"]);
    expect(await typesOf(api, second)).toEqual(["otp.created"]);
  });

  it("otp.expired once, at its expire_at, only for codes that ran out unverified and not canceled", async () => {
    const phone = freshPhone();
    const ran = await sendSms(api, phone, "111111", { lifetime: 20 });
    const verified = await sendSms(api, freshPhone(), "222222", { lifetime: 20 });
    await checkById(api, verified, "222222");
    const canceled = await sendSms(api, freshPhone(), "333333", { lifetime: 20 });
    await api.call("DELETE", `/otp/${canceled}`);
    const living = await sendSms(api, freshPhone(), "444444", { lifetime: 120 });
    const { rows } = await api.pool.query("SELECT expire_at FROM otp WHERE id = $1", [ran]);
    api.clock.advance(21_000);
    await Promise.all([api.expirySweeper.sweep(), strict.expirySweeper.sweep()]);
    await api.expirySweeper.sweep();
    const event = await only(ran, "otp.expired");
    expect(event.payload.timestamp).toBe((rows[0].expire_at as Date).toISOString());
    expect(event.payload.data).toMatchObject({ verification: { status: "expired", expires_in: null } });
    expect(await typesOf(api, verified)).toEqual(["otp.created", "otp.verified"]);
    expect(await typesOf(api, canceled)).toEqual(["otp.created", "otp.canceled"]);
    expect(await typesOf(api, living)).toEqual(["otp.created"]);
  });

  it("otp.expired for codes that ran out while every API process was down for hours, batch after batch", async () => {
    await api.expirySweeper.sweep(); // the sweeps are recorded up to now
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await sendSms(api, freshPhone(), "515151", { lifetime: 20 }));
    // Every API process down for three hours; then one starts, its sweeper taking two codes a batch.
    const later = testClock();
    later.advance(api.clock.now().getTime() - Date.now() + 3 * 3_600_000);
    const sweeper = new ExpirySweeper({
      pool: api.pool,
      sql: createSql(createTables(api.config.pg.schema)),
      clock: later.now,
      logger: silent,
      maxFailures: api.config.otp.maxCheckAttempts,
      batchSize: 2,
    });
    expect(await sweeper.sweep()).toBeGreaterThanOrEqual(5);
    for (const id of ids) await only(id, "otp.expired");
    expect(await sweeper.sweep()).toBe(0);
  });

  it("fans out to every subscription that wants the type, one message id each", async () => {
    const second = await subscribe(api, ["otp.verified"]);
    const phone = freshPhone();
    const id = await sendSms(api, phone, "123456");
    expect((await checkSms(api, phone, "123456")).body).toEqual({ status: true });
    const verified = await webhookEvents(api, { otpId: id, type: "otp.verified" });
    expect(verified.map((e) => e.subscription_id)).toContain(second);
    expect(new Set(verified.map((e) => e.id)).size).toBe(2);
    expect(await webhookEvents(api, { otpId: id, type: "otp.created" })).toHaveLength(1);
    await api.call("DELETE", `/webhooks/${second}`);
  });
});

describe("otp.blocked (docs/policy.md)", () => {
  const blocked = async (since: number) => (await webhookEvents(api, { type: "otp.blocked" })).slice(since);

  it("for a create refused by a list (before any transaction), with the rule and masked target", async () => {
    const before = (await blocked(0)).length;
    await api.call("POST", "/policy/sms", { mode: "enforce", countries: { allow: [], deny: ["KZ"] } });
    const phone = freshPhone();
    const refused = await api.call("POST", "/sms", {
      phone,
      password: "1234",
      lifetime: 60,
      message: "Code 1234",
      metadata: { order: "7" },
    });
    expect(refused.status).toBe(403);
    const events = await blocked(before);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ otp_id: null, type: "otp.blocked" });
    expect(events[0]?.payload.data).toEqual({
      otp_id: null,
      channel: "sms",
      target: maskTarget(phone),
      country: "KZ",
      rule: "countries",
      status_code: "destination_blocked",
      metadata: { order: "7" },
      test: false,
    });
  });

  it("for a create refused by a counted rule (in its transaction); none in monitor mode", async () => {
    await api.call("POST", "/policy/sms", {
      mode: "enforce",
      countries: { allow: [], deny: [] },
      budget: [{ minutes: 1, rate: 1 }],
    });
    api.clock.advance(120_000);
    const before = (await blocked(0)).length;
    await sendSms(api, freshPhone(), "1234");
    const refused = await api.call("POST", "/sms", {
      phone: freshPhone(),
      password: "1",
      lifetime: 60,
      message: "C 1",
    });
    expect(refused.status).toBe(429);
    const events = await blocked(before);
    expect(events.map((e) => e.payload.data)).toEqual([
      expect.objectContaining({ rule: "budget", status_code: "budget_exceeded" }),
    ]);
    await api.call("POST", "/policy/sms", { mode: "monitor" });
    const watched = await sendSms(api, freshPhone(), "1234");
    expect(await blocked(before + 1)).toEqual([]);
    expect(await typesOf(api, watched)).toEqual(["otp.created"]);
    await api.call("POST", "/policy/sms", { mode: "off", budget: [] });
  });
});

describe("publication", () => {
  it("the relay publishes each event to the exchange with routing key 'webhook', then forgets it", async () => {
    const connection = await amqp.connect(broker.url);
    try {
      const channel = await connection.createChannel();
      const { queue } = await channel.assertQueue("", { exclusive: true });
      await channel.bindQueue(queue, topology(broker.prefix).exchange, WEBHOOK_ROUTE);
      const waiting = (await webhookEvents(api)).length;
      expect(waiting).toBeGreaterThan(0);
      api.clock.advance(10_000);
      while ((await api.relay.runOnce()) > 0) {}
      expect(await webhookEvents(api)).toEqual([]);
      const received: WebhookMessage[] = [];
      for (;;) {
        const message = await channel.get(queue, { noAck: true });
        if (!message) break;
        const parsed = WebhookMessage.parse(JSON.parse(message.content.toString()));
        expect(message.properties.messageId).toBeDefined();
        received.push(parsed);
      }
      expect(received).toHaveLength(waiting);
    } finally {
      await connection.close();
    }
  });
});
