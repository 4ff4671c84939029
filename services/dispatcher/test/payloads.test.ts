import type { DeliveryEvent } from "@otp/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Dispatcher } from "../src/dispatcher.js";
import { type OtpInput, TELEGRAM_TOKEN, useHarness } from "./support/harness.js";

const h = useHarness("payloads");

/** JSON as PHP writes it: `/` escaped, as in the original product's Guzzle bodies. */
const esc = (url: string) => url.replaceAll("/", "\\/");

const OTPS: Record<string, OtpInput> = {
  sms: { channel: "sms", target: "77011234567", password: "4821", message: "Your code is {password}" },
  call: { channel: "call", target: "77011234567", password: "4821" },
  email: {
    channel: "email",
    target: "foo@example.com",
    password: "4821",
    subject: "Код {password}",
    html: "<b>{password}</b> — {password}",
  },
  telegram: { channel: "telegram", target: "1234567890", password: "4821", message: "Code: {password}" },
};

/** The provider's JSON body per channel, byte for byte (key order, null for absent texts, PHP escaping). */
const PROVIDER_JSON: Record<string, string> = {
  sms: '{"phones":"77011234567","message":"Your code is 4821","force":true}',
  call: '{"phones":"77011234567","message":"4821","force":true}',
  email:
    '{"to":"foo@example.com","subject":"\\u041a\\u043e\\u0434 4821","text":null,"html":"<b>4821<\\/b> \\u2014 4821","force":true}',
  telegram: '{"to":1234567890,"message":"Code: 4821","silent":false}',
};

const PROVIDER_PATH: Record<string, string> = {
  sms: "/smsvc/sms",
  call: "/callsvc/call",
  email: "/emailsvc/smtp",
  telegram: "/tg/msg",
};

const WORKER: Record<string, string> = {
  sms: "sms-worker",
  call: "call-worker",
  email: "email-worker",
  telegram: "telegram-worker",
};

async function deliverOne(
  input: OtpInput,
): Promise<{ event: DeliveryEvent; request: ReturnType<typeof h.provider.requests>[number] }> {
  const event = await h.send(input);
  const [request] = await h.provider.waitForRequests(1);
  await expect.poll(() => h.status(event.otp_id)).toBe("delivered");
  if (!request) throw new Error("no request");
  return { event, request };
}

beforeEach(() => {
  h.provider.reset();
});

describe("queue mode (the original product's): one POST {OTP_QUEUE_URL}/task per OTP", () => {
  let dispatcher: Dispatcher;
  beforeAll(async () => {
    dispatcher = await h.start({ OTP_DELIVERY_MODE: "queue" });
  });
  afterAll(() => dispatcher.stop());

  for (const channel of ["sms", "call", "email", "telegram"] as const) {
    it(`${channel}: the Queue task the original product sent, byte for byte, with the event id as Idempotency-Key`, async () => {
      const { event, request } = await deliverOne(OTPS[channel] as OtpInput);
      const providerUrl = `${h.provider.url}${PROVIDER_PATH[channel]}`;
      const headers = channel === "telegram" ? `,"headers":{"X-Auth-Token":"${TELEGRAM_TOKEN}"}` : "";
      expect(request.method).toBe("POST");
      expect(request.path).toBe("/queue/task");
      expect(request.headers["content-type"]).toBe("application/json");
      expect(request.headers["idempotency-key"]).toBe(event.id);
      expect(request.body).toBe(
        `{"url":"${esc(providerUrl)}","method":"post","worker":"${WORKER[channel]}","json":${PROVIDER_JSON[channel]}${headers}}`,
      );
      // And what a JSON reader sees: the original product's keys in the original product's order.
      expect(Object.keys(request.json as object)).toEqual(
        channel === "telegram" ? ["url", "method", "worker", "json", "headers"] : ["url", "method", "worker", "json"],
      );
      // The queue hop carries the provider's token inside the task, not as a header to the Queue.
      expect(request.headers["x-auth-token"]).toBeUndefined();
      expect((await h.row(event.otp_id)).attempts).toBe(1);
    });
  }

  it("substitutes every {password}, also in text and html, and sends absent texts as null", async () => {
    const { request } = await deliverOne({
      channel: "email",
      target: "a@b.c",
      password: "999000",
      subject: "S {password}",
      text: "T {password} {password}",
    });
    expect((request.json as { json: unknown }).json).toEqual({
      to: "a@b.c",
      subject: "S 999000",
      text: "T 999000 999000",
      html: null,
      force: true,
    });
  });
});

describe("direct mode: the same call straight to the service", () => {
  let dispatcher: Dispatcher;
  beforeAll(async () => {
    dispatcher = await h.start({ OTP_DELIVERY_MODE: "direct" });
  });
  afterAll(() => dispatcher.stop());

  for (const channel of ["sms", "call", "email", "telegram"] as const) {
    it(`${channel}: POST ${PROVIDER_PATH[channel]} with the provider body byte for byte`, async () => {
      const { event, request } = await deliverOne(OTPS[channel] as OtpInput);
      expect(request.method).toBe("POST");
      expect(request.path).toBe(PROVIDER_PATH[channel]);
      expect(request.headers["content-type"]).toBe("application/json");
      expect(request.headers["idempotency-key"]).toBe(event.id);
      expect(request.headers["x-auth-token"]).toBe(channel === "telegram" ? TELEGRAM_TOKEN : undefined);
      expect(request.body).toBe(PROVIDER_JSON[channel]);
    });
  }

  it("treats http-telegram-notify's '500 Sent message …' as delivered, sent once", async () => {
    h.provider.addRule({ path: "/tg/msg", action: "telegram-sent", times: 1 });
    const { event } = await deliverOne(OTPS.telegram as OtpInput);
    await new Promise((r) => setTimeout(r, 500)); // no retry follows
    expect(h.provider.requests()).toHaveLength(1);
    expect((await h.row(event.otp_id)).attempts).toBe(1);
  });

  it("but a plain 500 from telegram, or 'Sent message' from another channel, is a failure", async () => {
    h.provider.failNext(1, 500, { path: "/tg/msg", body: "internal error" });
    const tg = await h.send(OTPS.telegram as OtpInput);
    await h.provider.waitForRequests(2);
    await expect.poll(() => h.status(tg.otp_id)).toBe("delivered");
    expect((await h.row(tg.otp_id)).attempts).toBe(2);

    h.provider.reset();
    h.provider.addRule({ path: "/smsvc/sms", status: 500, body: 'Sent message "x" to 1', times: 1 });
    const sms = await h.send(OTPS.sms as OtpInput);
    await h.provider.waitForRequests(2);
    await expect.poll(() => h.status(sms.otp_id)).toBe("delivered");
    expect((await h.row(sms.otp_id)).attempts).toBe(2);
  });
});
