import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPhone, startTestApi, type TestApi } from "./support/harness.js";

/**
 * A test target stored under an earlier OTP_SECRET (docs/test-targets.md, "After a change of
 * OTP_SECRET"): its fixed code no longer decrypts, so a create to it is refused with 409 `conflict`
 * (the bot's webhook: 200, logged) and sends nothing, and GET /test-targets marks it `unreadable`
 * until it is posted again.
 */

const db = useTestDatabase();
const broker = useTestBroker("api-tt-secret");
/** Two deployments of one database: the same service before and after OTP_SECRET was changed. */
let before: TestApi;
let after: TestApi;

beforeAll(async () => {
  before = await startTestApi({
    pg: db(),
    broker,
    env: { OTP_SECRET: "test targets, secret before", OTP_TEST_TARGETS: "true" },
  });
  after = await startTestApi({
    pg: db(),
    broker,
    clock: before.clock,
    env: { OTP_SECRET: "test targets, secret after!", OTP_TEST_TARGETS: "true" },
  });
});
afterAll(async () => {
  await after?.close();
  await before?.close();
});

const expiresAt = () => new Date(before.clock.now().getTime() + 30 * 86_400_000).toISOString();
const post = (on: TestApi, channel: string, target: string, password: string) =>
  on.call("POST", "/test-targets", { channel, target, password, expires_at: expiresAt() });
/** The OTP rows and queued deliveries of `target`: a refused create leaves neither. */
const rowsOf = async (on: TestApi, target: string) => {
  const otp = await on.pool.query("SELECT 1 FROM otp WHERE target = $1", [target]);
  const outbox = await on.pool.query("SELECT 1 FROM outbox WHERE event->>'target' = $1", [target]);
  return (otp.rowCount ?? 0) + (outbox.rowCount ?? 0);
};
const listed = async (on: TestApi) =>
  ((await on.call("GET", "/test-targets")).body.content as { test_targets: Record<string, unknown>[] }).test_targets;

describe("a test target stored under another OTP_SECRET", () => {
  it("refuses a create to it with 409 conflict, sending nothing, until it is posted again", async () => {
    const phone = freshPhone();
    const chat = "5550777";
    expect((await post(before, "sms", phone, "424242")).status).toBe(200);
    expect((await post(before, "telegram", chat, "515151")).status).toBe(200);

    const sms = await after.call("POST", "/sms", { phone, lifetime: 300, message: "Code {password}" });
    expect(sms.status).toBe(409);
    expect(sms.body).toEqual({
      status: false,
      status_code: "conflict",
      message:
        "This sms test target was stored under another OTP_SECRET and its code cannot be read: " +
        "post it again (POST /test-targets)",
    });
    const telegram = await after.call("POST", "/telegram", { chat_id: chat, lifetime: 300, message: "{password}" });
    expect(telegram.status).toBe(409);
    expect(telegram.body.status_code).toBe("conflict");
    // The bot's webhook reaches the same refusal and, as for every refused create, answers 200 (any
    // other answer makes Telegram send the update again and again) and logs it.
    const update = { update_id: 9, message: { message_id: 1, date: 1, chat: { id: Number(chat), type: "private" } } };
    const webhook = await after.call("POST", "/telegram/webhook", update);
    expect(webhook.status).toBe(200);
    expect(after.logs.some((l) => l.includes("telegram webhook refused the create") && l.includes("OTP_SECRET"))).toBe(
      true,
    );
    expect(await rowsOf(after, phone)).toBe(0);
    expect(await rowsOf(after, chat)).toBe(0);
    expect(after.logs.join("\n")).not.toContain("424242");

    // Posted again under the new secret, it is a test target again there.
    expect((await post(after, "sms", phone, "636363")).status).toBe(200);
    const again = await after.call("POST", "/sms", { phone, lifetime: 300, message: "Code {password}" });
    expect(again.status).toBe(200);
    const id = (again.body.content as { id: string }).id;
    expect((await after.call("GET", `/otp/${id}`)).body.content).toMatchObject({ test: true });
    expect((await after.call("GET", `/sms/check?phone=${phone}&password=636363`)).body).toEqual({ status: true });
  });

  it("is marked unreadable in GET /test-targets, by the process that cannot read it", async () => {
    const phone = freshPhone();
    expect((await post(before, "sms", phone, "424242")).status).toBe(200);
    const row = { channel: "sms", target: phone, expires_at: expect.any(String), created_at: expect.any(String) };
    expect((await listed(after)).find((r) => r.target === phone)).toEqual({ ...row, unreadable: true });
    expect((await listed(before)).find((r) => r.target === phone)).toEqual(row);

    expect((await post(after, "sms", phone, "424242")).status).toBe(200);
    expect((await listed(after)).find((r) => r.target === phone)).toEqual(row);
    expect((await listed(before)).find((r) => r.target === phone)).toEqual({ ...row, unreadable: true });
  });
});
