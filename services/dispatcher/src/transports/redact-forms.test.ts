import type { DeliveryContent } from "@otp/contracts";
import { RecordingProvider } from "@otp/testkit";
import { describe, expect, it } from "vitest";
import { post } from "./http.js";
import { phpJsonEncode } from "./php-json.js";
import { redactorFor } from "./redact.js";
import { type ProviderSettings, queueTask, renderCall } from "./render.js";

/** Providers echo what they were sent the way their own encoders write it: each form is masked. */

const providers: ProviderSettings = {
  sms: { url: "http://sms", worker: "sms" },
  call: { url: "http://sms", worker: "sms" },
  email: { url: "http://email", worker: "email" },
  telegram: { url: "http://telegram:8080", worker: "telegram", appToken: "tg-app-token" },
};

/** `\uXXXX` of one UTF-16 unit, lower-case hex as PHP, Python and Go write it. */
const u = (ch: string) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`;

describe("texts and the code as other encoders write them", () => {
  // Every character the encoders below write differently: non-ASCII, HTML's <, > and &, `/`,
  // spaces, quotes and a line break.
  const message = 'Ваш код: {password} — <b>не сообщайте</b> & "никому"/never\nbye';
  const content: DeliveryContent = { password: "987654", message };
  const sent = message.replace("{password}", "987654");
  const redact = redactorFor({
    channel: "sms",
    target: "77019998877",
    content,
    call: renderCall(providers, "sms", "77019998877", content),
  });

  it("URL-encoded and form-encoded (a query string, an x-www-form-urlencoded body)", () => {
    for (const form of [
      encodeURIComponent(sent),
      encodeURIComponent(sent).replaceAll("%20", "+"),
      new URLSearchParams({ m: sent }).toString().slice(2),
    ]) {
      expect(redact(`rejected: text=${form}&x=1`)).toBe("rejected: text=***&x=1");
    }
  });

  it("JSON from Go (<, >, & escaped), Python (all non-ASCII escaped) and PHP without escaped Unicode", () => {
    const json = JSON.stringify(sent).slice(1, -1);
    for (const form of [
      json.replace(/[<>&]/g, u),
      json.replace(/[^\x20-\x7e]/g, u),
      json.replace(/[^\x20-\x7e]/g, u).toUpperCase(),
      json.replaceAll("/", "\\/"),
    ]) {
      expect(redact(`{"error":"rejected","text":"${form}"}`)).toBe('{"error":"rejected","text":"***"}');
    }
  });

  it("a JSON body quoted as a string inside JSON (escaped twice), by JavaScript and by PHP", () => {
    for (const quoted of [
      JSON.stringify(JSON.stringify({ message: sent })),
      phpJsonEncode(phpJsonEncode({ message: sent })),
      JSON.stringify(phpJsonEncode({ message: sent })),
    ]) {
      expect(redact(`{"error":"provider said","body":${quoted}}`)).toBe(
        String.raw`{"error":"provider said","body":"{\"message\":\"***\"}"}`,
      );
    }
  });

  it("the code spelled out with separators, as a voice provider may echo it", () => {
    const call = redactorFor({
      channel: "call",
      target: "77019998877",
      content: { password: "987654" },
      call: renderCall(providers, "call", "77019998877", { password: "987654" }),
    });
    for (const spelled of [
      "9 8 7 6 5 4",
      "9-8-7-6-5-4",
      "9.8.7.6.5.4",
      "9, 8, 7, 6, 5, 4",
      "98 76 54",
      "9+8+7+6+5+4",
    ]) {
      expect(call(`could not speak <say-as>${spelled}</say-as> to the callee`)).toBe(
        "could not speak <say-as>***</say-as> to the callee",
      );
    }
  });
});

describe("a provider URL with a user name and a password", () => {
  it("masks the password and the Basic authorization, not the user name (a name, not a secret)", () => {
    const settings = { ...providers, sms: { url: "https://apiuser:S3cretPa55@sms.example", worker: "sms" } };
    const content = { password: "4321", message: "Code {password}" };
    const call = renderCall(settings, "sms", "77011234567", content);
    const redact = redactorFor({ channel: "sms", target: "77011234567", content, call });
    const basic = Buffer.from("apiuser:S3cretPa55").toString("base64");
    expect(redact("401: unknown user apiuser")).toBe("401: unknown user apiuser");
    expect(redact(`401: bad password S3cretPa55 (${basic})`)).toBe("401: bad password *** (***)");
  });
});

describe("a provider URL whose token is its username alone", () => {
  const TOKEN = "sk_live_Zq7Kw2LpX9";

  it("is masked as written, in the task's JSON, and as the Basic authorization http.ts sends", async () => {
    const provider = new RecordingProvider();
    const port = await provider.start();
    let authorization: string | undefined;
    try {
      await post(
        { url: `http://${TOKEN}@127.0.0.1:${port}/sms`, body: "{}", headers: {}, timeoutMs: 2_000 },
        new AbortController().signal,
      );
      authorization = provider.requests()[0]?.headers.authorization;
    } finally {
      await provider.stop();
    }
    expect(authorization).toBe(`Basic ${Buffer.from(`${TOKEN}:`).toString("base64")}`);

    const settings = { ...providers, sms: { url: `https://${TOKEN}@sms.example`, worker: "sms" } };
    const content = { password: "4321", message: "Code {password}" };
    const call = renderCall(settings, "sms", "77011234567", content);
    const redact = redactorFor({ channel: "sms", target: "77011234567", content, call });
    const task = phpJsonEncode(queueTask(call));
    expect(task).toContain(String.raw`"url":"https:\/\/${TOKEN}@sms.example\/sms"`);
    for (const echoed of [`401: invalid api key ${TOKEN}`, `Authorization: ${authorization}`, task]) {
      const out = redact(echoed);
      expect(out).not.toContain("Zq7Kw2LpX9");
      expect(out).not.toContain(authorization?.slice("Basic ".length, -4));
      expect(out).toContain("***");
    }
  });

  it("also for the Queue service's own URL (OTP_QUEUE_URL)", () => {
    const content = { password: "4321", message: "Code {password}" };
    const call = renderCall(providers, "sms", "77011234567", content);
    const redact = redactorFor({
      channel: "sms",
      target: "77011234567",
      content,
      call,
      sent: { url: `http://${TOKEN}@queue` },
    });
    const basic = Buffer.from(`${TOKEN}:`).toString("base64");
    expect(redact(`401: token ${TOKEN}, Basic ${basic}`)).toBe("401: token ***, Basic ***");
  });
});
