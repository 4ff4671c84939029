import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SEED_EXAMPLES } from "../../../packages/contracts/src/seed-examples.fixtures.js";
import { startTestApi, type TestApi } from "./support/harness.js";

/**
 * A client written against the original product's README sends exactly these requests; each must
 * work unchanged (README.md: "a client switches by changing the host name").
 */
const db = useTestDatabase();
const broker = useTestBroker("api-seed");
let api: TestApi;

beforeAll(async () => {
  api = await startTestApi({ pg: db(), broker });
});
afterAll(() => api?.close());

const json = { "Content-Type": "application/json" };

describe("the original product README's examples, verbatim, over a real socket", () => {
  it("POST /sms, then GET /sms/check with the JSON body on the GET", async () => {
    const created = await api.raw("POST", "/sms", SEED_EXAMPLES.createSms, json);
    expect(created.status).toBe(200);
    expect(created.json).toEqual({ status: true, content: { id: expect.any(String) } });

    const checked = await api.raw("GET", "/sms/check", SEED_EXAMPLES.checkSms, json);
    expect(checked.status).toBe(200);
    expect(checked.json).toEqual({ status: true });
  });

  it("POST /call, then the same phone and code pass /call/check", async () => {
    expect((await api.raw("POST", "/call", SEED_EXAMPLES.createCall, json)).json).toMatchObject({ status: true });
    const checked = await api.raw("GET", "/call/check", SEED_EXAMPLES.checkSms, json);
    expect(checked.json).toEqual({ status: true });
  });

  it("POST /email, then GET /email/check", async () => {
    expect((await api.raw("POST", "/email", SEED_EXAMPLES.createEmail, json)).json).toMatchObject({ status: true });
    expect((await api.raw("GET", "/email/check", SEED_EXAMPLES.checkEmail, json)).json).toEqual({ status: true });
  });

  it("POST /telegram, then GET /telegram/check", async () => {
    expect((await api.raw("POST", "/telegram", SEED_EXAMPLES.createTelegram, json)).json).toMatchObject({
      status: true,
    });
    expect((await api.raw("GET", "/telegram/check", SEED_EXAMPLES.checkTelegram, json)).json).toEqual({
      status: true,
    });
  });

  it("a wrong code is {status: false} with HTTP 200", async () => {
    const wrong = SEED_EXAMPLES.checkEmail.replace("12345", "54321");
    const checked = await api.raw("GET", "/email/check", wrong, json);
    expect(checked.status).toBe(200);
    expect(checked.json).toEqual({ status: false });
  });

  it("POST /limit/sms, /limit/call, /limit/email answer {status: true} and GET /limit shows the rules", async () => {
    for (const [channel, body] of [
      ["sms", SEED_EXAMPLES.limitSms],
      ["call", SEED_EXAMPLES.limitCall],
      ["email", SEED_EXAMPLES.limitEmail],
    ] as const) {
      const set = await api.raw("POST", `/limit/${channel}`, body, json);
      expect(set.status).toBe(200);
      expect(set.json).toEqual({ status: true });
    }
    const rules = [
      { minutes: 10, rate: 3 },
      { minutes: 60, rate: 10 },
    ];
    expect((await api.call("GET", "/limit/sms")).body).toEqual({
      status: true,
      content: { ips: rules, phones: [rules[0]] },
    });
    expect((await api.call("GET", "/limit/email")).body).toEqual({
      status: true,
      content: { ips: rules, emails: [rules[0]] },
    });
    // Clean up for the lookups below: the original product examples' ip would now count.
    for (const channel of ["sms", "call", "email"]) {
      await api.call("POST", `/limit/${channel}`, { ips: [], [channel === "email" ? "emails" : "phones"]: [] });
    }
  });

  it("GET /target and GET /password with the original product's bodies", async () => {
    await api.raw(
      "POST",
      "/telegram",
      JSON.stringify({ chat_id: "1234567890", password: "1234567", lifetime: 300, message: "Code 1234567" }),
      json,
    );
    const target = await api.raw("GET", "/target", SEED_EXAMPLES.target, json);
    expect(target.json).toEqual({ status: true, content: { target: "1234567890" } });

    const password = await api.raw("GET", "/password", SEED_EXAMPLES.password, json);
    expect(password.status).toBe(200);
    // The newest live OTP of 77011234567, any channel: the /call one created above.
    expect(password.json).toEqual({ status: true, content: { password: "12345" } });
  });

  it("a client that sends the JSON with curl's default form Content-Type is understood", async () => {
    const checked = await api.raw("GET", "/sms/check", SEED_EXAMPLES.checkSms, {
      "Content-Type": "application/x-www-form-urlencoded",
    });
    expect(checked.json).toEqual({ status: true });
  });

  it("a missing parameter is reported the original product's way", async () => {
    const answer = await api.raw("POST", "/sms", JSON.stringify({ password: "1", lifetime: 60, message: "x" }), json);
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual({ status: false, status_code: "validation", message: '"phone" parameter must be set' });
  });
});
