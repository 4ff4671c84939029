import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { metricValue } from "@otp/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DeliveringDispatcher, startDeliveringDispatcher } from "./support/dispatcher.js";
import { freshPhone, startTestApi, type TestApi } from "./support/harness.js";
import { checkById, checkSms, sendSms, view } from "./support/lifecycle.js";

/**
 * The verification status of `GET /otp/{id}`, check and cancel by id (docs/lifecycle.md): every
 * transition a user can see, through the API only.
 */

const db = useTestDatabase();
const broker = useTestBroker("api-lifecycle-status");
let api: TestApi;
/** OTP_SINGLE_USE and OTP_RESEND=supersede: codes are consumed, and resends close older codes. */
let strict: TestApi;

beforeAll(async () => {
  api = await startTestApi({ pg: db(), broker });
  strict = await startTestApi({ pg: db(), broker, env: { OTP_SINGLE_USE: "true", OTP_RESEND: "supersede" } });
});
afterAll(async () => {
  await api?.close();
  await strict?.close();
});

describe("GET /otp/{id}: the verification status", () => {
  it("a new code is pending, with its attempts and seconds left, its metadata and test: false", async () => {
    const id = await sendSms(api, freshPhone(), "123456", { metadata: { order: "A-42" } });
    const answer = await api.call("GET", `/otp/${id}`);
    expect(answer.body.content).toMatchObject({
      id,
      channel: "sms",
      delivery: { status: expect.any(String), attempts: expect.any(Number) },
      verification: { status: "pending", reason: null, attempts_left: 5, verified_at: null },
      metadata: { order: "A-42" },
      test: false,
    });
    expect(api.logs.join("\n")).not.toContain("A-42");
    const { expires_in } = (answer.body.content as { verification: { expires_in: number } }).verification;
    expect(expires_in).toBeGreaterThan(590);
    expect(expires_in).toBeLessThanOrEqual(600);
  });

  it("approved at the first right check, with verified_at; counted in otp_verified_total and the histogram", async () => {
    const phone = freshPhone();
    const id = await sendSms(api, phone, "123456");
    const metrics = async () => (await api.app.request("/metrics")).text();
    const before = metricValue(await metrics(), "otp_verified_total", { channel: "sms" });
    const observed = metricValue(await metrics(), "otp_time_to_verify_seconds_count", { channel: "sms" });
    expect((await checkSms(api, phone, "123456")).body).toEqual({ status: true });
    expect((await checkSms(api, phone, "123456")).body).toEqual({ status: true });
    const { verification } = await view(api, id);
    expect(verification).toMatchObject({ status: "approved", reason: null, expires_in: null });
    expect(Date.parse(verification.verified_at as string)).toBeGreaterThan(Date.now() - 60_000);
    const text = await metrics();
    expect(metricValue(text, "otp_verified_total", { channel: "sms" })).toBe(before + 1);
    expect(metricValue(text, "otp_time_to_verify_seconds_count", { channel: "sms" })).toBe(observed + 1);
  });

  it("max_attempts_reached after OTP_MAX_CHECK_ATTEMPTS wrong checks, attempts_left counting down", async () => {
    const phone = freshPhone();
    const id = await sendSms(api, phone, "123456");
    for (let i = 0; i < 4; i++) await checkSms(api, phone, `00000${i}`);
    expect((await view(api, id)).verification).toMatchObject({ status: "pending", attempts_left: 1 });
    await checkSms(api, phone, "000009");
    expect((await view(api, id)).verification).toMatchObject({ status: "max_attempts_reached", attempts_left: 0 });
  });

  it("expired once its lifetime is over", async () => {
    const id = await sendSms(api, freshPhone(), "123456", { lifetime: 60 });
    api.clock.advance(61_000);
    expect((await view(api, id)).verification).toMatchObject({ status: "expired", expires_in: null });
  });

  it("canceled with reason superseded by a resend (OTP_RESEND=supersede)", async () => {
    const phone = freshPhone();
    const first = await sendSms(strict, phone, "111111");
    const second = await sendSms(strict, phone, "222222");
    expect((await view(strict, first)).verification).toMatchObject({ status: "canceled", reason: "superseded" });
    expect((await view(strict, second)).verification.status).toBe("pending");
  });

  it("OTP_SINGLE_USE: the right code is approved, its unverified sibling canceled as sibling_consumed", async () => {
    const phone = freshPhone();
    const strictNew = await startTestApi({ pg: db(), broker, env: { OTP_SINGLE_USE: "true" } });
    try {
      const older = await sendSms(strictNew, phone, "111111");
      const newer = await sendSms(strictNew, phone, "222222");
      expect((await checkSms(strictNew, phone, "222222")).body).toEqual({ status: true });
      expect((await view(strictNew, newer)).verification.status).toBe("approved");
      expect((await view(strictNew, older)).verification).toMatchObject({
        status: "canceled",
        reason: "sibling_consumed",
      });
    } finally {
      await strictNew.close();
    }
  });

  it("keeps the metadata of each channel's create, a form's metadata[key] fields too", async () => {
    const email = await api.call("POST", "/email", {
      email: "lifecycle@example.com",
      password: "123456",
      subject: "Code",
      lifetime: 60,
      metadata: { session: "s1" },
    });
    expect((await view(api, (email.body.content as { id: string }).id)).metadata).toEqual({ session: "s1" });
    const call = await api.call("POST", "/call", { phone: freshPhone(), password: "1234", lifetime: 60 });
    expect((await view(api, (call.body.content as { id: string }).id)).metadata).toEqual({});
    const form = await api.call(
      "POST",
      "/sms",
      `phone=${freshPhone()}&password=1234&lifetime=60&message=Code+1234&metadata%5Border%5D=42&metadata%5Bstep%5D=login`,
      { "Content-Type": "application/x-www-form-urlencoded" },
    );
    expect(form.status).toBe(200);
    expect((await view(api, (form.body.content as { id: string }).id)).metadata).toEqual({
      order: "42",
      step: "login",
    });
  });

  it("stores the country of sms and call targets, none for email", async () => {
    const sms = await sendSms(api, freshPhone(), "123456");
    const { rows } = await api.pool.query("SELECT country FROM otp WHERE id = $1", [sms]);
    expect(rows[0].country).toBe("KZ");
    const { rows: emails } = await api.pool.query("SELECT country FROM otp WHERE channel = 'email'");
    for (const row of emails) expect(row.country).toBeNull();
  });
});

describe("metadata bounds", () => {
  const create = (metadata: unknown) =>
    api.call("POST", "/sms", { phone: freshPhone(), password: "1234", lifetime: 60, message: "Code 1234", metadata });
  const pairs = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, `v${i}`]));

  it("accepts 10 pairs, keys of 64 and values of 256 characters", async () => {
    expect((await create(pairs(10))).status).toBe(200);
    expect((await create({ ["k".repeat(64)]: "v".repeat(256) })).status).toBe(200);
  });

  it.each([
    ["11 pairs", pairs(11), '"metadata" must have at most 10 keys, got 11'],
    ["a key of 65 characters", { ["k".repeat(65)]: "v" }, '"metadata" keys must be 1 to 64 characters'],
    ["an empty key", { "": "v" }, '"metadata" keys must be 1 to 64 characters'],
    ["a value of 257 characters", { k: "v".repeat(257) }, '"metadata.k" must be at most 256 characters'],
    ["a number value", { k: 1 }, '"metadata.k" must be a string'],
    ["a nested object", { k: { a: "b" } }, '"metadata.k" must be a string'],
    ["an array", ["a"], '"metadata" must be an object'],
    ["a string", "order=42", '"metadata" must be an object'],
    ["a NUL character", { k: "a\u0000b" }, '"metadata.k" must not contain control characters'],
  ])("refuses %s with a 400 naming it, and stores nothing", async (_, metadata, message) => {
    const before = (await api.pool.query("SELECT count(*)::int AS n FROM otp")).rows[0].n;
    const answer = await create(metadata);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ status: false, status_code: "validation" });
    expect(answer.body.message).toContain(message);
    expect((await api.pool.query("SELECT count(*)::int AS n FROM otp")).rows[0].n).toBe(before);
  });
});

describe("POST /otp/{id}/check", () => {
  it("right: status true with attempts_left, and the OTP approved", async () => {
    const phone = freshPhone();
    const id = await sendSms(api, phone, "123456");
    expect((await checkById(api, id, "654321")).body).toEqual({ status: false, content: { attempts_left: 4 } });
    expect((await checkById(api, id, "123456")).body).toEqual({ status: true, content: { attempts_left: 4 } });
    expect((await view(api, id)).verification.status).toBe("approved");
    // Again: now answered by the read that takes no lock (nothing to write), with the same count.
    expect((await checkById(api, id, "123456")).body).toEqual({ status: true, content: { attempts_left: 4 } });
  });

  it("a sibling's right code does not approve this id, and counts as a wrong guess", async () => {
    const phone = freshPhone();
    const a = await sendSms(api, phone, "111111");
    const b = await sendSms(api, phone, "222222");
    expect((await checkById(api, a, "222222")).body).toEqual({ status: false, content: { attempts_left: 4 } });
    expect((await view(api, a)).verification.status).toBe("pending");
    expect((await view(api, b)).verification).toMatchObject({ status: "pending", attempts_left: 4 });
    expect((await checkById(api, b, "222222")).body.status).toBe(true);
    expect((await view(api, a)).verification.status).toBe("pending");
    // b is verified now, and its code still does not pass for a.
    expect((await checkById(api, a, "222222")).body).toEqual({ status: false, content: { attempts_left: 3 } });
  });

  it("shares the target's guess budget and throttle with the channel check", async () => {
    const phone = freshPhone();
    const id = await sendSms(api, phone, "123456");
    for (let i = 0; i < 3; i++) expect((await checkSms(api, phone, `00000${i}`)).body.status).toBe(false);
    for (let i = 0; i < 2; i++) expect((await checkById(api, id, `10000${i}`)).body.status).toBe(false);
    const refused = await checkById(api, id, "123456");
    expect(refused.body).toMatchObject({
      status: false,
      status_code: "attempts_exceeded",
      content: { attempts_left: 0 },
    });
    const other = await sendSms(api, phone, "777777");
    const throttled = await checkById(api, other, "777777");
    expect(throttled.body).toMatchObject({ status: false, status_code: "check_throttled" });
    expect(throttled.headers.get("Retry-After")).toBe("30");
  });

  it("404 for an unknown id, 400 for a malformed one or no password", async () => {
    const unknown = await checkById(api, "00000000-0000-4000-8000-000000000000", "123456");
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ status: false, status_code: "not_found" });
    expect((await checkById(api, "nope", "123456")).status).toBe(400);
    const id = await sendSms(api, freshPhone(), "123456");
    const missing = await api.call("POST", `/otp/${id}/check`, {});
    expect(missing.body).toMatchObject({ status_code: "validation", message: '"password" parameter must be set' });
  });
});

describe("DELETE /otp/{id}", () => {
  it("cancels a pending code: it no longer checks; a second DELETE answers the same", async () => {
    const phone = freshPhone();
    const id = await sendSms(api, phone, "123456");
    const first = await api.call("DELETE", `/otp/${id}`);
    expect(first.status).toBe(200);
    expect(first.body.content).toMatchObject({ id, verification: { status: "canceled", reason: "canceled" } });
    const second = await api.call("DELETE", `/otp/${id}`);
    expect(second.status).toBe(200);
    expect(second.body.content).toEqual(first.body.content);
    expect((await checkSms(api, phone, "123456")).body).toEqual({ status: false });
    expect((await checkById(api, id, "123456")).body.status).toBe(false);
    expect((await view(api, id)).verification).toMatchObject({ status: "canceled", reason: "canceled" });
  });

  it("refuses a verified or an expired code with 409 and its state", async () => {
    const phone = freshPhone();
    const verified = await sendSms(api, phone, "123456");
    await checkSms(api, phone, "123456");
    const refused = await api.call("DELETE", `/otp/${verified}`);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({
      status: false,
      status_code: "conflict",
      message: "The OTP is approved; only a pending one can be canceled",
      content: { id: verified, verification: { status: "approved" } },
    });
    const expiring = await sendSms(api, freshPhone(), "123456", { lifetime: 30 });
    api.clock.advance(31_000);
    const expired = await api.call("DELETE", `/otp/${expiring}`);
    expect(expired.status).toBe(409);
    expect(expired.body).toMatchObject({ content: { verification: { status: "expired" } } });
  });

  it("404 for an unknown id", async () => {
    const answer = await api.call("DELETE", "/otp/00000000-0000-4000-8000-000000000000");
    expect(answer.status).toBe(404);
  });
});

describe("DELETE /otp/{id} after the code was delivered", () => {
  const SECRET = "lifecycle cancel-after-delivery secret";
  let delivering: TestApi;
  let dispatcher: DeliveringDispatcher;
  beforeAll(async () => {
    delivering = await startTestApi({ pg: db(), broker, env: { OTP_SECRET: SECRET } });
    dispatcher = await startDeliveringDispatcher({ pg: db(), broker, secret: SECRET });
  });
  afterAll(async () => {
    await delivering?.close();
    await dispatcher?.close();
  });

  it("cancels the code: its delivery stays delivered, the code no longer checks", async () => {
    const phone = freshPhone();
    const id = await sendSms(delivering, phone, "654321");
    await expect
      .poll(async () => ((await view(delivering, id)).delivery as { status: string }).status, { timeout: 15_000 })
      .toBe("delivered");
    expect(dispatcher.provider.requests().some((r) => r.body.includes(phone))).toBe(true);
    const canceled = await delivering.call("DELETE", `/otp/${id}`);
    expect(canceled.status).toBe(200);
    expect(canceled.body.content).toMatchObject({
      delivery: { status: "delivered" },
      verification: { status: "canceled", reason: "canceled" },
    });
    expect((await checkSms(delivering, phone, "654321")).body).toEqual({ status: false });
  });
});
