import { describe, expect, it } from "vitest";
import { newWebhookSecret } from "../signing.js";
import { parseConfig } from "./index.js";

const secret = newWebhookSecret();

function hookOf(env: Record<string, string>) {
  const result = parseConfig(env);
  if (!result.ok) throw new Error(result.errors.join("; "));
  return result.config.presendHook;
}

function errorsOf(env: Record<string, string>): string[] {
  const result = parseConfig(env);
  if (result.ok) throw new Error("configuration was accepted");
  return result.errors;
}

describe("the pre-send hook's variables", () => {
  it("no URL, no hook; with one, the defaults: 1 s, fail open, public https only", () => {
    expect(hookOf({})).toBeUndefined();
    expect(hookOf({ OTP_PRESEND_HOOK_URL: "https://risk.example.com/otp", OTP_PRESEND_HOOK_SECRET: secret })).toEqual({
      url: "https://risk.example.com/otp",
      secret,
      timeoutMs: 1000,
      fail: "open",
      allowPrivate: false,
    });
  });

  it("needs a whsec_ secret with the URL", () => {
    expect(errorsOf({ OTP_PRESEND_HOOK_URL: "https://risk.example.com" })).toEqual([
      "OTP_PRESEND_HOOK_SECRET: must be set with OTP_PRESEND_HOOK_URL (a whsec_… secret to sign the requests)",
    ]);
    expect(errorsOf({ OTP_PRESEND_HOOK_SECRET: "hunter2" })[0]).toMatch(/^OTP_PRESEND_HOOK_SECRET: must be whsec_/);
  });

  it("refuses plain http and private, loopback and link-local addresses unless ALLOW_PRIVATE", () => {
    const env = (url: string, extra: Record<string, string> = {}) => ({
      OTP_PRESEND_HOOK_URL: url,
      OTP_PRESEND_HOOK_SECRET: secret,
      ...extra,
    });
    expect(errorsOf(env("http://risk.example.com"))[0]).toMatch(/must be https/);
    for (const host of ["127.0.0.1", "10.1.2.3", "192.168.0.10", "169.254.169.254", "[::1]", "[fd00::1]"]) {
      expect(errorsOf(env(`https://${host}/hook`))[0]).toMatch(/is not a public address/);
    }
    expect(hookOf(env("http://127.0.0.1:9999/hook", { OTP_PRESEND_HOOK_ALLOW_PRIVATE: "true" }))?.allowPrivate).toBe(
      true,
    );
    expect(errorsOf(env("ftp://risk.example.com"))[0]).toMatch(/^OTP_PRESEND_HOOK_URL: must be an http\(s\) URL/);
  });

  it("reads the timeout in milliseconds and the failure mode", () => {
    const hook = hookOf({
      OTP_PRESEND_HOOK_URL: "https://risk.example.com",
      OTP_PRESEND_HOOK_SECRET: secret,
      OTP_PRESEND_HOOK_TIMEOUT_MS: "250",
      OTP_PRESEND_HOOK_FAIL: "closed",
    });
    expect(hook).toMatchObject({ timeoutMs: 250, fail: "closed" });
    expect(errorsOf({ OTP_PRESEND_HOOK_FAIL: "maybe" })).toEqual(['OTP_PRESEND_HOOK_FAIL: must be "open" or "closed"']);
  });
});
