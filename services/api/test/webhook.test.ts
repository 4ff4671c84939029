import { topology } from "@otp/broker";
import { useTestBroker } from "@otp/broker/testing";
import { DeliveryEvent, unsealContent } from "@otp/contracts";
import { useTestDatabase } from "@otp/db/testing";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "./support/harness.js";

const db = useTestDatabase();
const broker = useTestBroker("api-webhook");
let api: TestApi;
let inspector: amqp.ChannelModel;
const t = topology(broker.prefix);

beforeAll(async () => {
  api = await startTestApi({
    pg: db(),
    broker,
    env: {
      OTP_TELEGRAM_CODE_LENGTH: "7",
      OTP_TELEGRAM_LIFETIME: "120",
      OTP_TELEGRAM_MESSAGE: "Your login code: {password}",
    },
  });
  inspector = await amqp.connect(broker.url);
});
afterAll(async () => {
  await api?.close();
  await inspector?.close();
});

const updateFrom = (chatId: number, updateId = 1) => ({
  update_id: updateId,
  message: {
    message_id: 10,
    date: 1_700_000_000,
    chat: { id: chatId, type: "private", first_name: "Ann" },
    from: { id: chatId, is_bot: false, first_name: "Ann" },
    text: "/start",
  },
});

/** Takes the next message of the telegram work queue, waiting for it a little. */
async function nextTelegramEvent(): Promise<amqp.GetMessage> {
  const ch = await inspector.createChannel();
  try {
    for (let i = 0; i < 50; i++) {
      const message = await ch.get(t.workQueue("telegram"), { noAck: true });
      if (message) return message;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("no event in the telegram queue");
  } finally {
    await ch.close();
  }
}

describe("POST /telegram/webhook, end to end", () => {
  it("an update → a generated code for that chat, published to the telegram work queue; lookups find it", async () => {
    const chatId = 700_123_456;
    const answer = await api.call("POST", "/telegram/webhook", updateFrom(chatId));
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ status: true });

    const message = await nextTelegramEvent();
    const event = DeliveryEvent.parse(JSON.parse(message.content.toString()));
    expect(message.properties.messageId).toBe(event.id);
    expect(event).toMatchObject({ v: 1, channel: "telegram", target: String(chatId) });
    expect(Date.parse(event.expire_at) - Date.parse(event.created_at)).toBe(120_000);
    const content = unsealContent(api.keys, event.sealed, event.id);
    expect(content.message).toBe("Your login code: {password}");
    expect(content.password).toMatch(/^\d{7}$/);

    const password = await api.call("GET", `/password?target=${chatId}`);
    expect(password.body).toEqual({ status: true, content: { password: content.password } });
    const target = await api.call("GET", `/target?password=${content.password}&channel=telegram`);
    expect(target.body).toEqual({ status: true, content: { target: String(chatId) } });
    const check = await api.call("GET", `/telegram/check?chat_id=${chatId}&password=${content.password}`);
    expect(check.body).toEqual({ status: true });
  });

  it("obeys the telegram chat_ids rules but still answers 200; ip rules do not apply", async () => {
    await api.call("POST", "/limit/telegram", {
      ips: [{ minutes: 10, rate: 1 }],
      chat_ids: [{ minutes: 10, rate: 2 }],
    });
    const chatId = 700_000_999;
    for (let i = 0; i < 4; i++) {
      const answer = await api.call("POST", "/telegram/webhook", updateFrom(chatId, 100 + i));
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ status: true });
    }
    const { rows } = await api.pool.query("SELECT count(*)::int AS n FROM otp WHERE target = $1", [String(chatId)]);
    expect(rows[0].n).toBe(2);
    expect(api.logs.some((l) => l.includes("telegram webhook refused the create"))).toBe(true);
    await api.call("POST", "/limit/telegram", { ips: [], chat_ids: [] });
  });

  it("an update without a chat creates nothing and answers 200", async () => {
    const before = await api.pool.query("SELECT count(*)::int AS n FROM otp");
    for (const body of [{ update_id: 5 }, { update_id: 6, poll: { id: "1" } }, { whatever: true }]) {
      const answer = await api.call("POST", "/telegram/webhook", body);
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ status: true });
    }
    const after = await api.pool.query("SELECT count(*)::int AS n FROM otp");
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  it("a body that is not a JSON object is 400 bad_request, one over 64 KiB 413 (as docs/api.md says)", async () => {
    const json = { "Content-Type": "application/json" };
    for (const body of ["{not json", "[1, 2]", '"text"']) {
      const answer = await api.call("POST", "/telegram/webhook", body, json);
      expect(answer.status, body).toBe(400);
      expect(answer.body).toMatchObject({ status: false, status_code: "bad_request" });
    }
    const huge = JSON.stringify({ ...updateFrom(700_000_777), padding: "x".repeat(70_000) });
    expect((await api.call("POST", "/telegram/webhook", huge, json)).status).toBe(413);
  });

  it("group chats (negative ids) and edited messages count too", async () => {
    const answer = await api.call("POST", "/telegram/webhook", {
      update_id: 9,
      edited_message: { message_id: 1, date: 1, chat: { id: -100123, type: "group" }, text: "x" },
    });
    expect(answer.status).toBe(200);
    const { rows } = await api.pool.query("SELECT channel, generated FROM otp WHERE target = '-100123'");
    expect(rows).toEqual([{ channel: "telegram", generated: true }]);
  });
});
