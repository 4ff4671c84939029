import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { createSigner, newWebhookSecret } from "./signing.js";

describe("createSigner", () => {
  it("signs so that the Standard Webhooks library verifies the exact body", () => {
    const secret = newWebhookSecret();
    const body = JSON.stringify({ channel: "sms", target: "77011234567" });
    const headers = createSigner(secret).sign(body, { id: "msg_1" });
    expect(headers["webhook-id"]).toBe("msg_1");
    expect(headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
    expect(() => new Webhook(secret).verify(`${body} `, { ...headers })).toThrow();
    expect(() => new Webhook(newWebhookSecret()).verify(body, { ...headers })).toThrow();
  });

  it("timestamps in seconds and draws a fresh id when none is given", () => {
    const signer = createSigner(newWebhookSecret());
    const at = new Date("2026-01-02T03:04:05.678Z");
    const a = signer.sign("{}", { at });
    expect(a["webhook-timestamp"]).toBe(String(Math.floor(at.getTime() / 1000)));
    expect(a["webhook-id"]).not.toBe(signer.sign("{}")["webhook-id"]);
  });

  it("refuses a secret that is not whsec_ and base64", () => {
    expect(() => createSigner("plain-secret")).toThrow(/whsec_/);
  });
});
