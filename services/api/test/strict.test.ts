import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPhone, startTestApi, type TestApi } from "./support/harness.js";

/** OTP_ASSURANCE=strict: the NIST SP 800-63B-4 / OWASP ASVS profile in one switch (docs/security.md). */

const db = useTestDatabase();
const broker = useTestBroker("api-strict");
let api: TestApi;

beforeAll(async () => {
  api = await startTestApi({ pg: db(), broker, env: { OTP_ASSURANCE: "strict" } });
});
afterAll(() => api?.close());

const sms = (phone: string, fields: Record<string, unknown>) =>
  api.call("POST", "/sms", { phone, message: "Code {password}", lifetime: 300, ...fields });
const check = (phone: string, password: string) => api.call("GET", `/sms/check?phone=${phone}&password=${password}`);

describe("OTP_ASSURANCE=strict", () => {
  it("refuses a lifetime over 600 s with 400 validation", async () => {
    const answer = await sms(freshPhone(), { lifetime: 601 });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({
      status: false,
      status_code: "validation",
      message: '"lifetime" must be between 1 and 600',
    });
    expect((await sms(freshPhone(), { lifetime: 600 })).status).toBe(200);
  });

  it("refuses a client-supplied code shorter than 6 characters", async () => {
    const answer = await sms(freshPhone(), { password: "12345" });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ status: false, status_code: "validation" });
    expect(answer.body.message).toContain('"password" must be at least 6 characters');
    expect((await sms(freshPhone(), { password: "123456" })).status).toBe(200);
  });

  it("is single use, and a new code supersedes the older ones", async () => {
    const phone = freshPhone();
    await sms(phone, { password: "111111" });
    await sms(phone, { password: "222222" });
    expect((await check(phone, "111111")).body).toEqual({ status: false });
    expect((await check(phone, "222222")).body).toEqual({ status: true });
    expect((await check(phone, "222222")).body).toEqual({ status: false });
  });

  it("throttles checks after 5 failures", async () => {
    const phone = freshPhone();
    await sms(phone, { password: "333333" });
    for (let i = 0; i < 5; i++) await check(phone, `00000${i}`);
    await sms(phone, { password: "444444" });
    expect((await check(phone, "444444")).body.status_code).toBe("check_throttled");
  });
});
