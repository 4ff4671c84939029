import type { Channel, DeliveryContent } from "@otp/contracts";
import { describe, expect, it } from "vitest";
import { describeStatus } from "./http.js";
import { phpJsonEncode } from "./php-json.js";
import { redactorFor } from "./redact.js";
import { renderCall } from "./render.js";

const providers = {
  sms: { url: "http://sms", worker: "sms" },
  call: { url: "http://sms", worker: "sms" },
  email: { url: "http://email", worker: "email" },
  telegram: { url: "http://telegram:8080", worker: "telegram", appToken: "t" },
};

function redactorOf(channel: Channel, target: string, content: DeliveryContent) {
  return redactorFor({ channel, target, content, call: renderCall(providers, channel, target, content) });
}

/** What a stored error may not contain, whatever the provider echoed. */
function expectClean(text: string, forbidden: readonly (string | RegExp)[]) {
  for (const f of forbidden) {
    if (typeof f === "string") expect(text.toLowerCase()).not.toContain(f.toLowerCase());
    else expect(text).not.toMatch(f);
  }
}

describe("error bodies are cut of the target in every form and of the texts", () => {
  it("a phone, with or without + and separators, national or international", () => {
    const redact = redactorOf("sms", "77019998877", { password: "4321", message: "Your code is 4321" });
    for (const spelling of [
      "77019998877",
      "+77019998877",
      "+7 (701) 999-88-77",
      "8 701 999 88 77",
      "7019998877",
      "+7 701 999\\/88\\/77",
    ]) {
      const out = redact(`{"error":"invalid number ${spelling}"}`);
      expectClean(out, [/\d{3}\D{0,3}\d{2}\D{0,3}\d{2}/]);
      expect(out).toContain("***");
    }
  });

  it("the full chat id", () => {
    const redact = redactorOf("telegram", "-1001234567890", { password: "4321", message: "Code 4321" });
    const out = redact(
      '{"ok":false,"description":"Bad Request: chat not found","parameters":{"chat_id":-1001234567890}}',
    );
    expectClean(out, ["1001234567890"]);
    expect(out).toContain("chat not found");
  });

  it("the email, in any case, escaped or URL-encoded", () => {
    const address = "foo.bar/x@example.com";
    const redact = redactorOf("email", address, { password: "4321", subject: "Code", text: "Your code 4321" });
    const out = redact(
      `mailbox FOO.BAR/X@EXAMPLE.COM rejected; to=${phpJsonEncode(address)} ${JSON.stringify(address)} ${encodeURIComponent(address)}`,
    );
    expectClean(out, ["foo.bar", "foo.bar%2fx", "example.com"]);
  });

  it("the message texts: raw, JSON-escaped, PHP-JSON-escaped, and cut short at the end of the kept body", () => {
    const message = "Ваш код: 4321\n/не сообщайте его никому";
    const redact = redactorOf("sms", "77019998877", { password: "4321", message });
    for (const echoed of [
      message,
      JSON.stringify(message),
      phpJsonEncode(message),
      phpJsonEncode(message).toUpperCase(),
    ]) {
      const out = redact(`{"status":false,"message":"bad text","content":${echoed}}`);
      expectClean(out, ["Ваш код", "\\u0412\\u0430\\u0448", "4321", "никому"]);
      expect(out).toContain("bad text");
    }
    // The body kept is the first 512 bytes: an echo may stop halfway, even inside a character.
    const long = `Your code is 4321. ${"Never tell it to anyone. ".repeat(40)}`;
    const redactLong = redactorOf("sms", "77019998877", { password: "4321", message: long });
    const cut = redactLong(`{"error":"too long","message":"${long.slice(0, 300)}\uFFFD`);
    expect(cut).toBe('{"error":"too long","message":"***');
  });

  it("the code itself, anywhere", () => {
    const redact = redactorOf("call", "77019998877", { password: "987654" });
    expect(redact("could not speak 987654 to the callee")).toBe("could not speak *** to the callee");
  });

  it("a UTF-16 body read as UTF-8 (a NUL between characters), or zero-width spaces between digits", () => {
    const content = { password: "482916", message: "Your code is 482916" };
    const redact = redactorOf("sms", "77019998877", content);
    const utf16 = Buffer.from('{"error":"Your code is 482916","to":"+77019998877"}', "utf16le").toString("utf8");
    const stored = describeStatus({ status: 400, bodyStart: utf16, retryAfter: null }, redact);
    expectClean(stored, ["482916", "4 8 2 9 1 6", "7019998877", "7 0 1 9 9 9 8 8 7 7"]);
    expect(stored.startsWith('HTTP 400: {"error":"***"')).toBe(true);
    expectClean(redact("code 4\u200b8\u200b2\u200b9\u200b1\u200b6 for 7019\u200b9988\u200b77"), ["2\u200b9", "9988"]);
  });

  it("leaves an unrelated body alone", () => {
    const redact = redactorOf("sms", "77019998877", { password: "4321", message: "Your code is 4321" });
    expect(redact('{"status":false,"message":"Service unavailable"}')).toBe(
      '{"status":false,"message":"Service unavailable"}',
    );
  });
});
