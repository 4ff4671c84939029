import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "./support/harness.js";

const db = useTestDatabase();
const broker = useTestBroker("api-auth");
let open: TestApi;
let locked: TestApi;
let lockedWithWebhookSecret: TestApi;
let openWithWebhookSecret: TestApi;

const basic = (user: string, password: string) => ({
  Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`,
});
const update = { update_id: 1, message: { message_id: 1, date: 1, chat: { id: 31337, type: "private" }, text: "hi" } };

beforeAll(async () => {
  open = await startTestApi({ pg: db(), broker });
  locked = await startTestApi({ pg: db(), broker, env: { HTTP_AUTH_USERNAME: "admin", HTTP_AUTH_PASSWORD: "s3cret" } });
  lockedWithWebhookSecret = await startTestApi({
    pg: db(),
    broker,
    env: { HTTP_AUTH_USERNAME: "admin", HTTP_AUTH_PASSWORD: "s3cret", OTP_TELEGRAM_WEBHOOK_SECRET: "hook-Secret_1" },
  });
  openWithWebhookSecret = await startTestApi({
    pg: db(),
    broker,
    env: { OTP_TELEGRAM_WEBHOOK_SECRET: "hook-Secret_2" },
  });
});
afterAll(async () => {
  await Promise.all([open?.close(), locked?.close(), lockedWithWebhookSecret?.close(), openWithWebhookSecret?.close()]);
});

describe("HTTP Basic auth", () => {
  it("without HTTP_AUTH_* nothing asks for credentials", async () => {
    expect((await open.call("GET", "/limit/sms")).status).toBe(200);
  });

  it("with them, every route but /health answers 401 with WWW-Authenticate and the envelope", async () => {
    for (const [method, path] of [
      ["GET", "/limit/sms"],
      ["POST", "/sms"],
      ["GET", "/sms/check"],
      ["GET", "/password?target=1"],
      ["GET", "/metrics"],
      ["GET", "/stats"],
      ["GET", "/openapi.json"],
      ["POST", "/telegram/webhook"],
      ["GET", "/no/such/route"],
    ] as const) {
      const answer = await locked.call(method, path);
      expect(answer.status, path).toBe(401);
      expect(answer.headers.get("WWW-Authenticate")).toBe('Basic realm="otp"');
      expect(answer.body).toEqual({ status: false, status_code: "unauthorized", message: expect.any(String) });
    }
    expect((await locked.call("GET", "/health")).status).toBe(200);
  });

  it("wrong credentials are refused; right ones pass", async () => {
    expect((await locked.call("GET", "/limit/sms", undefined, basic("admin", "wrong"))).status).toBe(401);
    expect((await locked.call("GET", "/limit/sms", undefined, basic("root", "s3cret"))).status).toBe(401);
    const ok = await locked.call("GET", "/limit/sms", undefined, basic("admin", "s3cret"));
    expect(ok.status).toBe(200);
    expect(ok.body.status).toBe(true);
  });

  it("without a webhook secret the webhook needs basic auth like everything else", async () => {
    expect((await locked.call("POST", "/telegram/webhook", update)).status).toBe(401);
    const answer = await locked.call("POST", "/telegram/webhook", update, basic("admin", "s3cret"));
    expect(answer.status).toBe(200);
  });
});

describe("the webhook secret", () => {
  it("with OTP_TELEGRAM_WEBHOOK_SECRET the webhook checks the header instead of basic auth", async () => {
    const api = lockedWithWebhookSecret;
    const missing = await api.call("POST", "/telegram/webhook", update);
    expect(missing.status).toBe(401);
    expect(missing.body).toMatchObject({ status: false, status_code: "unauthorized" });
    const wrong = await api.call("POST", "/telegram/webhook", update, { "X-Telegram-Bot-Api-Secret-Token": "nope" });
    expect(wrong.status).toBe(401);
    const right = await api.call("POST", "/telegram/webhook", update, {
      "X-Telegram-Bot-Api-Secret-Token": "hook-Secret_1",
    });
    expect(right.status).toBe(200);
    expect(right.body).toEqual({ status: true });
    // Everything else still needs basic auth.
    expect((await api.call("GET", "/limit/sms")).status).toBe(401);
  });

  it("good basic credentials do not stand in for the secret, and the secret is checked before the body", async () => {
    const api = lockedWithWebhookSecret;
    const withBasic = await api.call("POST", "/telegram/webhook", update, basic("admin", "s3cret"));
    expect(withBasic.status).toBe(401);
    const garbage = await api.call("POST", "/telegram/webhook", "{not json", {
      "Content-Type": "application/json",
      "X-Telegram-Bot-Api-Secret-Token": "nope",
    });
    expect(garbage.status).toBe(401);
  });

  it("without HTTP_AUTH_* the secret is still required", async () => {
    const api = openWithWebhookSecret;
    expect((await api.call("POST", "/telegram/webhook", update)).status).toBe(401);
    const right = await api.call("POST", "/telegram/webhook", update, {
      "X-Telegram-Bot-Api-Secret-Token": "hook-Secret_2",
    });
    expect(right.status).toBe(200);
    expect((await api.call("GET", "/limit/sms")).status).toBe(200);
  });
});
