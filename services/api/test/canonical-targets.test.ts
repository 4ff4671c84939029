import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type DeliveringDispatcher, startDeliveringDispatcher } from "./support/dispatcher.js";
import { startTestApi, type TestApi } from "./support/harness.js";

/**
 * One canonical form per target and address (docs/api.md, "Conventions"): a limit counts one
 * number, one address, one chat however it is spelt, and only routable numbers are sent to.
 */

const SECRET = "canonical targets test secret";
const db = useTestDatabase();
const broker = useTestBroker("api-canon");
let api: TestApi;
/** A replica with OTP_DEFAULT_REGION=KZ, OTP_EMAIL_CANONICAL=true, on the same database. */
let kz: TestApi;
let dispatcher: DeliveringDispatcher;

beforeAll(async () => {
  api = await startTestApi({ pg: db(), broker, env: { OTP_SECRET: SECRET } });
  kz = await startTestApi({
    pg: db(),
    broker,
    clock: api.clock,
    env: { OTP_SECRET: SECRET, OTP_DEFAULT_REGION: "KZ", OTP_EMAIL_CANONICAL: "true" },
  });
  dispatcher = await startDeliveringDispatcher({ pg: db(), broker, secret: SECRET });
});
afterAll(async () => {
  await api?.close();
  await kz?.close();
  await dispatcher?.close();
});

beforeEach(async () => {
  for (const [channel, key] of [
    ["sms", "phones"],
    ["call", "phones"],
    ["email", "emails"],
    ["telegram", "chat_ids"],
  ] as const) {
    await api.call("POST", `/limit/${channel}`, { ips: [], [key]: [] });
  }
});

const sms = (on: TestApi, phone: unknown, extra: Record<string, unknown> = {}) =>
  on.call("POST", "/sms", { phone, password: "1234", lifetime: 300, message: "Code {password}", ...extra });

describe("phones", () => {
  it("a phone limit cannot be sidestepped by spelling the number another way", async () => {
    await api.call("POST", "/limit/sms", { phones: [{ minutes: 10, rate: 1 }] });
    expect((await sms(api, "77019998877")).status).toBe(200);
    // The same number: the same limit.
    for (const spelling of ["77019998877", "0077019998877", "+7 (701) 999-88-77", "01177019998877", 77019998877]) {
      const answer = await sms(api, spelling);
      expect({ spelling, status: answer.status, code: answer.body.status_code }).toEqual({
        spelling,
        status: 429,
        code: "phone_limit",
      });
    }
    // National forms mean nothing without a default region: not a number to send to.
    for (const spelling of ["077019998877", "87019998877"]) {
      const answer = await sms(api, spelling);
      expect({ spelling, status: answer.status, code: answer.body.status_code }).toEqual({
        spelling,
        status: 400,
        code: "validation",
      });
    }
    // With OTP_DEFAULT_REGION=KZ, 8… is the national form of the same number.
    expect((await sms(kz, "87019998877")).body.status_code).toBe("phone_limit");
    expect((await sms(kz, "077019998877")).body.status_code).toBe("validation");

    // The one code accepted was sent to the canonical digits.
    await expect.poll(() => dispatcher.provider.requests({ path: "/sms" }).length).toBe(1);
    expect(dispatcher.provider.requests({ path: "/sms" })[0]?.json).toMatchObject({ phones: "77019998877" });
  });

  it("emergency, short and unassigned numbers are refused, not forwarded", async () => {
    for (const phone of ["112", "911", "1900555"]) {
      const answer = await api.call("POST", "/call", { phone, password: "1", lifetime: 60 });
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ status: false, status_code: "validation" });
      expect(answer.body.message).toMatch(/^"phone" is not a valid phone number/);
    }
  });

  it("checks and GET /password find the code under any spelling of the number", async () => {
    expect((await sms(api, "+7 701 999 00 11", { password: "5151" })).status).toBe(200);
    for (const phone of ["77019990011", "+77019990011", "0077019990011"]) {
      expect((await api.call("GET", `/sms/check?phone=${encodeURIComponent(phone)}&password=5151`)).body).toEqual({
        status: true,
      });
      const found = await api.call("GET", `/password?target=${encodeURIComponent(phone)}`);
      expect(found.body).toEqual({ status: true, content: { password: "5151" } });
    }
    const national = await kz.call("GET", "/password?target=87019990011");
    expect(national.body).toEqual({ status: true, content: { password: "5151" } });
  });

  it("GET /password also finds a target stored as given (OTP_PHONE_CHECK=off, or before numbering plans)", async () => {
    const off = await startTestApi({ pg: db(), broker, env: { OTP_SECRET: SECRET, OTP_PHONE_CHECK: "off" } });
    try {
      expect((await sms(off, "87019990022", { password: "6262" })).status).toBe(200);
    } finally {
      await off.close();
    }
    expect((await api.call("GET", "/password?target=87019990022")).body).toEqual({
      status: true,
      content: { password: "6262" },
    });
    // Never a 400 for a target that is no valid phone: chat ids and emails are targets too.
    for (const target of ["112", "nobody@example.com", "-100123", "not a phone"]) {
      const answer = await api.call("GET", `/password?target=${encodeURIComponent(target)}`);
      expect({ target, status: answer.status }).toEqual({ target, status: 404 });
    }
  });
});

describe("ip addresses", () => {
  it("an ip rule counts one address however it is spelt", async () => {
    await api.call("POST", "/limit/sms", { ips: [{ minutes: 10, rate: 1 }] });
    expect((await sms(api, "77019990031", { ip: "203.0.113.7" })).status).toBe(200);
    for (const ip of ["::ffff:203.0.113.7", "::ffff:cb00:7107", "0:0:0:0:0:FFFF:203.0.113.7"]) {
      const answer = await sms(api, "77019990032", { ip });
      expect({ ip, status: answer.status, code: answer.body.status_code }).toEqual({
        ip,
        status: 429,
        code: "ip_limit",
      });
    }
    expect((await sms(api, "77019990033", { ip: "2001:DB8::7" })).status).toBe(200);
    expect((await sms(api, "77019990034", { ip: "2001:db8:0:0:0:0:0:7" })).body.status_code).toBe("ip_limit");
  });

  it("a zone, or an ip longer than any address, is a 400 before limits (a 4 KB zone was a 500)", async () => {
    await api.call("POST", "/limit/sms", { ips: [{ minutes: 10, rate: 5 }] });
    for (const ip of ["fe80::1%eth0", `fe80::1%${"z".repeat(4096)}`]) {
      const answer = await sms(api, "77019990041", { ip });
      expect(answer.status).toBe(400);
      expect(answer.body.status_code).toBe("validation");
    }
  });
});

describe("chat ids", () => {
  it('are the integer they are: "01234" and 1234 are one chat', async () => {
    await api.call("POST", "/limit/telegram", { chat_ids: [{ minutes: 10, rate: 1 }] });
    const telegram = (chatId: unknown) =>
      api.call("POST", "/telegram", { chat_id: chatId, password: "77", lifetime: 60, message: "Code {password}" });
    expect((await telegram("01234")).status).toBe(200);
    expect((await telegram(1234)).body.status_code).toBe("chat_id_limit");
    expect((await api.call("GET", "/telegram/check?chat_id=1234&password=77")).body).toEqual({ status: true });
    expect((await api.call("GET", "/password?target=01234")).body).toEqual({
      status: true,
      content: { password: "77" },
    });
  });
});

describe("emails under OTP_EMAIL_CANONICAL=true", () => {
  const email = (on: TestApi, address: string, password = "31") =>
    on.call("POST", "/email", { email: address, password, lifetime: 60, subject: "Code", text: "Code {password}" });

  it("a +tag does not escape an email limit; the code still goes to, and checks for, the address as given", async () => {
    await api.call("POST", "/limit/email", { emails: [{ minutes: 10, rate: 1 }] });
    // Off (the default): each tag is an address of its own.
    expect((await email(api, "ann+1@example.com")).status).toBe(200);
    expect((await email(api, "ann+2@example.com")).status).toBe(200);

    expect((await email(kz, "bob+1@example.com", "41")).status).toBe(200);
    for (const address of ["bob+2@example.com", "bob@example.com", "BOB+x@Example.com"]) {
      expect((await email(kz, address)).body.status_code).toBe("email_limit");
    }
    expect((await kz.call("GET", "/email/check?email=bob%2B1%40example.com&password=41")).body).toEqual({
      status: true,
    });
    expect((await kz.call("GET", "/email/check?email=bob%40example.com&password=41")).body).toEqual({ status: false });
    await expect
      .poll(() => dispatcher.provider.requests({ path: "/smtp" }).map((r) => (r.json as { to: string }).to))
      .toEqual(expect.arrayContaining(["bob+1@example.com"]));
  });

  it("counts exactly under concurrency: 20 parallel tags of one address under a rate of 3 accept 3", async () => {
    await api.call("POST", "/limit/email", { emails: [{ minutes: 10, rate: 3 }] });
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => email(kz, `carol+${i}@example.com`)));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(3);
    expect(answers.filter((a) => a.body.status_code === "email_limit")).toHaveLength(17);
  });
});
