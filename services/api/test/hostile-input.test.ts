import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type DeliveringDispatcher, startDeliveringDispatcher } from "./support/dispatcher.js";
import { startTestApi, type TestApi } from "./support/harness.js";

/**
 * What a client can put in a request and what it can get back out of a provider: control
 * characters, texts longer than the provider counts, `$` patterns in a code, and provider error
 * bodies that echo the target or the text (docs/security.md).
 */

const SECRET = "hostile input test secret";
const db = useTestDatabase();
const broker = useTestBroker("api-hostile");
let api: TestApi;
let dispatcher: DeliveringDispatcher;

beforeAll(async () => {
  api = await startTestApi({ pg: db(), broker, env: { OTP_SECRET: SECRET } });
  dispatcher = await startDeliveringDispatcher({ pg: db(), broker, secret: SECRET });
});
afterAll(async () => {
  await api?.close();
  await dispatcher?.close();
});
beforeEach(() => {
  dispatcher.provider.reset();
});

const validation = (answer: { status: number; body: { status_code?: string } }) => ({
  status: answer.status,
  code: answer.body.status_code,
});
const REFUSED = { status: 400, code: "validation" };

describe("control characters", () => {
  it("are refused in an email subject (no header injection) and in targets", async () => {
    const email = { email: "dan@example.com", password: "1", lifetime: 60, text: "x" };
    for (const subject of ["Hi\r\nBcc: victim@example.com", "Hi\nthere", "Hi\u0000"]) {
      expect(validation(await api.call("POST", "/email", { ...email, subject }))).toEqual(REFUSED);
    }
    const requests = [
      ["/sms", { phone: "7701999\r\n0061", password: "1", lifetime: 60, message: "m" }],
      ["/email", { ...email, subject: "s", email: "dan@example.com\r\nBcc: victim@example.com" }],
      ["/telegram", { chat_id: "12\r\n34", password: "1", lifetime: 60, message: "m" }],
    ] as const;
    for (const [path, body] of requests) expect(validation(await api.call("POST", path, body))).toEqual(REFUSED);
    expect(validation(await api.call("GET", "/password?target=7701%0D%0A9990061"))).toEqual(REFUSED);
  });

  it("texts keep line breaks and tabs, and refuse the other controls", async () => {
    const ok = await api.call("POST", "/sms", {
      phone: "77019990062",
      password: "1",
      lifetime: 60,
      message: "Line 1\r\nLine 2\tend",
    });
    expect(ok.status).toBe(200);
    await expect
      .poll(() => dispatcher.provider.requests({ path: "/sms" }).map((r) => r.json))
      .toEqual([{ phones: "77019990062", message: "Line 1\r\nLine 2\tend", force: true }]);
    for (const message of ["a\u0000b", "a\u001b[31mb", "a\u0007b"]) {
      const answer = await api.call("POST", "/sms", { phone: "77019990062", password: "1", lifetime: 60, message });
      expect(validation(answer)).toEqual(REFUSED);
    }
  });
});

describe("text limits, in the provider's unit", () => {
  it("Telegram counts UTF-16 code units: 4,096 emoji are refused, 2,048 fit", async () => {
    const telegram = (message: string) =>
      api.call("POST", "/telegram", { chat_id: 5550001, password: "1", lifetime: 60, message });
    expect(validation(await telegram("😀".repeat(4096)))).toEqual(REFUSED);
    expect((await telegram("😀".repeat(2048))).status).toBe(200);
  });

  it("an SMS counts segments: 1,600 GSM-7 characters fit, 1,600 Cyrillic ones (UCS-2) do not", async () => {
    const sms = (message: string) =>
      api.call("POST", "/sms", { phone: "77019990063", password: "1", lifetime: 60, message });
    expect((await sms("x".repeat(1600))).status).toBe(200);
    expect(validation(await sms("ж".repeat(1600)))).toEqual(REFUSED);
    expect((await sms("ж".repeat(737))).status).toBe(200);
  });
});

describe("{password}", () => {
  it("is replaced literally: $& and $$ in a client's code reach the user as the stored code", async () => {
    for (const [phone, code] of [
      ["77019990071", "12$&34"],
      ["77019990072", "$$99"],
      ["77019990073", "$'x$`"],
    ] as const) {
      const created = await api.call("POST", "/sms", {
        phone,
        password: code,
        lifetime: 60,
        message: "Code: {password}.",
      });
      expect(created.status).toBe(200);
      expect((await api.call("GET", `/password?target=${phone}`)).body).toEqual({
        status: true,
        content: { password: code },
      });
    }
    const sent = () =>
      dispatcher.provider
        .requests({ path: "/sms" })
        .map((r) => r.json as { phones: string; message: string })
        .filter((r) => r.phones.startsWith("7701999007"))
        .map((r) => r.message)
        .sort();
    await expect.poll(sent).toEqual(["Code: $$99.", "Code: $'x$`.", "Code: 12$&34."].sort());
  });
});

describe("a provider's error body", () => {
  async function failedDelivery(id: string): Promise<string> {
    await expect
      .poll(async () => (await api.call("GET", `/otp/${id}`)).body.content, { timeout: 15_000 })
      .toMatchObject({
        delivery: { status: "failed" },
      });
    const content = (await api.call("GET", `/otp/${id}`)).body.content as { delivery: { last_error: string } };
    return content.delivery.last_error;
  }

  it("is stored and logged without the chat id or the message, however escaped", async () => {
    const chatId = 9081726354;
    const message = "Ваш код: 424242 — не сообщайте его";
    const escaped = JSON.stringify(message).replace(
      /[^\x20-\x7e]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
    dispatcher.provider.addRule({
      path: "/msg",
      status: 400,
      body: `{"ok":false,"description":"Bad Request: chat ${chatId} not found","echo":{"to":${chatId},"message":${escaped}},"raw":"${message}"}`,
    });
    const created = await api.call("POST", "/telegram", { chat_id: chatId, password: "424242", lifetime: 60, message });
    const lastError = await failedDelivery((created.body.content as { id: string }).id);
    expect(lastError).toMatch(/^rejected: HTTP 400: .*chat \*\*\* not found/);
    for (const leak of [String(chatId), "424242", "\\u0412\\u0430\\u0448", "Ваш код", "сообщайте"]) {
      expect(lastError).not.toContain(leak);
      expect(dispatcher.process.output()).not.toContain(leak);
    }
  });

  it("is stored and logged without the phone, in any spelling", async () => {
    dispatcher.provider.addRule({
      path: "/sms",
      status: 422,
      body: '{"status":false,"message":"number +7 (701) 999-00-81 is not reachable; 77019990081 / 8 701 999 00 81"}',
    });
    const created = await api.call("POST", "/sms", {
      phone: "77019990081",
      password: "5",
      lifetime: 60,
      message: "Code {password}",
    });
    const lastError = await failedDelivery((created.body.content as { id: string }).id);
    expect(lastError).toContain("is not reachable");
    for (const leak of [/999\D{0,3}00\D{0,3}81/, /7019990081/]) {
      expect(lastError).not.toMatch(leak);
      expect(dispatcher.process.output()).not.toMatch(leak);
    }
  });
});
