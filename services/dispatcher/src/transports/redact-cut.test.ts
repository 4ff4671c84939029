import type { Channel, DeliveryContent } from "@otp/contracts";
import { RecordingProvider } from "@otp/testkit";
import { describe, expect, it } from "vitest";
import { directTransport } from "./direct.js";
import { BODY_KEPT } from "./http.js";
import { phpJsonEncode } from "./php-json.js";
import { redactorFor } from "./redact.js";
import { type ProviderSettings, queueTask, renderCall } from "./render.js";

/**
 * A provider's error body is kept to its first BODY_KEPT bytes, so an echo of the code, a text, the
 * target or a secret may be cut anywhere inside: what is kept of it is masked, however short.
 */

const TOKEN = "tg/App+Token=Zq7Kw2Lp";

const providers: ProviderSettings = {
  sms: { url: "http://sms", worker: "sms" },
  call: { url: "http://sms", worker: "sms" },
  email: { url: "http://email", worker: "email" },
  telegram: { url: "http://telegram:8080", worker: "telegram", appToken: TOKEN },
};

function redactorOf(channel: Channel, target: string, content: DeliveryContent) {
  return redactorFor({ channel, target, content, call: renderCall(providers, channel, target, content) });
}

/**
 * A body as the provider sent it, `{"note":"xxx…","error":"rejected",<start><echo>…}`, cut at
 * BODY_KEPT bytes as http.ts cuts it: the note is as long as it takes for the cut to fall after
 * `keptBytes` bytes of `echo`.
 */
function cutBody(start: string, echo: string, keptBytes: number): string {
  const pad = BODY_KEPT - keptBytes - Buffer.byteLength(`{"note":"","error":"rejected",${start}`);
  const whole = `{"note":"${"x".repeat(pad)}","error":"rejected",${start}${echo}","more":"…"}`;
  return Buffer.from(whole).subarray(0, BODY_KEPT).toString("utf8");
}

describe("an echo cut short by the kept body's byte limit", () => {
  it("an email provider's 400 that ends inside the code: stored with no digit of it", async () => {
    const provider = new RecordingProvider();
    const port = await provider.start();
    try {
      // An html echo (of ~430 bytes) that fills the kept bytes up to `"text":"9876`: 4 of the 6 digits.
      const html = (pad: number) =>
        `<p>Your code is <b>{password}</b>.</p><p>${"Never share it. ".repeat(24)}${"x".repeat(pad)}</p>`;
      const answer = (pad: number) =>
        `{"error":"rejected","html":${JSON.stringify(html(pad).replace("{password}", "987654"))},"text":"987654"}`;
      const pad = BODY_KEPT - answer(0).indexOf('"text":"') - '"text":"9876'.length;
      const content = { password: "987654", subject: "Code", text: "{password}", html: html(pad) };
      const sent = answer(pad);
      expect(Buffer.from(sent).subarray(0, BODY_KEPT).toString()).toMatch(/"text":"9876$/);
      provider.addRule({ status: 400, body: sent });

      const transport = directTransport({
        providers: { ...providers, email: { url: `http://127.0.0.1:${port}`, worker: "email" } },
        timeoutMs: 2_000,
      });
      const result = await transport.deliver(
        { eventId: "e1", channel: "email", target: "user@example.com", content },
        new AbortController().signal,
      );
      expect(result).toMatchObject({ ok: false, transient: false });
      expect(result.ok ? "" : result.error).toBe('HTTP 400: {"error":"rejected","html":"***","text":"***');
    } finally {
      await provider.stop();
    }
  });

  it("a text that starts with the code, cut after its first digits", () => {
    const redact = redactorOf("sms", "77019998877", { password: "987654", message: "{password} is your code" });
    for (const kept of [1, 2, 4]) {
      expect(redact(cutBody('"message":"', "987654 is your code", kept))).toMatch(/"message":"\*\*\*$/);
    }
  });

  it("a phone cut after a digit or two of its national number (the country code may stay)", () => {
    const redact = redactorOf("sms", "77019998877", { password: "987654", message: "Code {password}" });
    expect(redact(cutBody('"phones":"', "+7 (701) 999-88-77", 6))).toMatch(/"phones":"\+7 \(\*\*\*$/);
    expect(redact(cutBody('"phones":"', "77019998877", 1))).toMatch(/"phones":"\*\*\*$/);
  });

  it("a secret cut after a few characters, in the form a Queue task carries it", () => {
    const content = { password: "4321", message: "Code {password}" };
    const call = renderCall(providers, "telegram", "123456789", content);
    const task = phpJsonEncode(queueTask(call));
    expect(task).toContain(String.raw`"X-Auth-Token":"tg\/App+Token=Zq7Kw2Lp"`);
    const redact = redactorFor({ channel: "telegram", target: "123456789", content, call });
    for (const kept of [1, 4, 7]) {
      const body = cutBody('"headers":{"X-Auth-Token":"', String.raw`tg\/App+Token=Zq7Kw2Lp"}`, kept);
      expect(redact(body)).toMatch(/"headers":\{"X-Auth-Token":"\*\*\*$/);
    }
  });

  it("a text cut inside a character, after its first letters", () => {
    const redact = redactorOf("sms", "77019998877", { password: "987654", message: "Код {password}" });
    // "К", "о" and "д" take two bytes each: the cut falls inside "д".
    const body = cutBody('"message":"', "Код 987654", 5);
    expect(body.endsWith('"message":"Ко\uFFFD')).toBe(true);
    expect(redact(body)).toMatch(/"message":"\*\*\*$/);
  });

  it("a whole body (not cut) keeps its last letters though a text starts with them", () => {
    const redact = redactorOf("sms", "77019998877", { password: "987654", message: "Your code is {password}" });
    expect(redact("Bad Gateway")).toBe("Bad Gateway");
    // Trailing separators do not count: one digit and a line end is not an echo.
    expect(redact("Invalid sender id 17\r\n")).toBe("Invalid sender id 17\r\n");
    expect(redact("retry in 7.\n")).toBe("retry in 7.\n");
  });

  it("a whole body that a provider ended inside an echo loses the echo's start from its third character", () => {
    const redact = redactorOf("sms", "77019998877", { password: "987654", message: "Code: {password}" });
    expect(redact('{"error":"rejected","code":"987')).toBe('{"error":"rejected","code":"***');
    expect(redact('{"error":"rejected","message":"Cod')).toBe('{"error":"rejected","message":"***');
  });
});
