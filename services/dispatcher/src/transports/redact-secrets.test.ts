import type { Channel, DeliveryContent } from "@otp/contracts";
import { describe, expect, it } from "vitest";
import { describeStatus } from "./http.js";
import { phpJsonEncode } from "./php-json.js";
import { redactorFor } from "./redact.js";
import { type ProviderSettings, queueTask, renderCall } from "./render.js";

/** An app token with the characters JSON, PHP's JSON and URLs write differently. */
const TOKEN = "tg/App+Token=Zq7Kw2Lp";

const providers: ProviderSettings = {
  sms: { url: "http://otp:s3cr%40t-pass@sms", worker: "sms" },
  call: { url: "http://sms", worker: "sms" },
  email: { url: "http://email", worker: "email" },
  telegram: { url: "http://telegram:8080", worker: "telegram", appToken: TOKEN },
};

function delivery(channel: Channel, target: string, content: DeliveryContent) {
  const call = renderCall(providers, channel, target, content);
  return { call, redact: redactorFor({ channel, target, content, call }) };
}

const answer = (status: number, bodyStart: string) => ({ status, bodyStart, retryAfter: null });

describe("stored errors never hold a secret the call carried", () => {
  it("the telegram app token, from a Queue service's 422 that echoes the task it refused", () => {
    const { call, redact } = delivery("telegram", "123456789", { password: "4321", message: "Code {password}" });
    const task = phpJsonEncode(queueTask(call));
    expect(task).toContain(String.raw`"X-Auth-Token":"tg\/App+Token=Zq7Kw2Lp"`);
    const error = describeStatus(
      answer(422, `{"error":"unknown worker","headers":${task.slice(task.indexOf('{"X-'))}`),
      redact,
    );
    expect(error).toBe('HTTP 422: {"error":"unknown worker","headers":{"X-Auth-Token":"***"}}');
    // The whole task, as PHP's JSON, plain JSON or upper-cased, and the token in a query string.
    const query = `GET /msg?token=${encodeURIComponent(TOKEN)}`;
    for (const echoed of [task, JSON.stringify(queueTask(call)), task.toUpperCase(), query]) {
      const out = redact(echoed);
      expect(out.toLowerCase()).not.toContain("zq7kw2lp");
      expect(out).toContain("***");
    }
  });

  it("the token as a header a provider echoes (direct mode), and cut short at the end of the kept body", () => {
    const { redact } = delivery("telegram", "123456789", { password: "4321", message: "Code {password}" });
    expect(redact(`401: bad token ${TOKEN} for this bot`)).toBe("401: bad token *** for this bot");
    expect(redact(`{"received":{"x-auth-token":"${TOKEN.slice(0, 12)}`)).toBe('{"received":{"x-auth-token":"***');
  });

  it("a provider URL's password: as written, decoded, and inside the Basic authorization sent", () => {
    const { call, redact } = delivery("sms", "77011234567", { password: "4321", message: "Code {password}" });
    const basic = Buffer.from("otp:s3cr@t-pass").toString("base64");
    for (const echoed of [
      phpJsonEncode(queueTask(call)),
      "auth s3cr@t-pass refused",
      `Authorization: Basic ${basic}`,
    ]) {
      const out = redact(echoed);
      expect(out).not.toMatch(/s3cr(%40|@)t-pass/);
      expect(out).not.toContain(basic);
    }
  });

  it("the Queue service's own URL password (OTP_QUEUE_URL), where queue mode POSTs the task", () => {
    const content = { password: "4321", message: "Code {password}" };
    const call = renderCall(providers, "call", "77011234567", content);
    const sent = { url: "http://otp:Qu3ue-Pa55@queue/tasks" };
    const redact = redactorFor({ channel: "call", target: "77011234567", content, call, sent });
    const basic = Buffer.from("otp:Qu3ue-Pa55").toString("base64");
    expect(redact(`401: user otp, password Qu3ue-Pa55, Basic ${basic}`)).toBe("401: user otp, password ***, Basic ***");
  });
});
