import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPhone, startTestApi, type TestApi } from "./support/harness.js";

/** The HTTP edge of docs/security.md: cross-site refusals, body parsing for browsers, headers (slow clients: slow-clients.serial.test.ts). */
const db = useTestDatabase();
const broker = useTestBroker("api-edge");
let api: TestApi;

const ALLOWED = "https://backoffice.example.com";

beforeAll(async () => {
  api = await startTestApi({ pg: db(), broker, env: { OTP_ALLOWED_ORIGINS: `${ALLOWED}/` } });
});
afterAll(() => api?.close());

const json = { "Content-Type": "application/json" };
const smsBody = (phone: string) => JSON.stringify({ phone, password: "4321", lifetime: 60, message: "code 4321" });
const storedFor = async (phone: string) =>
  (await api.pool.query("SELECT count(*)::int AS n FROM otp WHERE target = $1", [phone])).rows[0].n as number;

describe("requests a browser sends for another site", () => {
  it("Sec-Fetch-Site: cross-site is refused with 403 on every route, and nothing is stored", async () => {
    const phone = freshPhone();
    const headers = { ...json, "Sec-Fetch-Site": "cross-site" };
    for (const [method, path, body] of [
      ["POST", "/sms", smsBody(phone)],
      ["POST", "/limit/sms", JSON.stringify({ phones: [{ minutes: 1, rate: 1 }] })],
      ["GET", `/password?target=${phone}`, undefined],
      ["GET", "/sms/check", JSON.stringify({ phone, password: "4321" })],
    ] as const) {
      const answer = await api.raw(method, path, body, headers);
      expect(answer.status, `${method} ${path}`).toBe(403);
      expect(answer.json).toMatchObject({ status: false, status_code: "forbidden" });
    }
    expect(await storedFor(phone)).toBe(0);
    expect((await api.call("GET", "/limit/sms")).body.content).toEqual({ ips: [], phones: [] });
  });

  it("an Origin that is neither the service's own nor allowed is refused; those two are served", async () => {
    const phone = freshPhone();
    const evil = await api.raw("POST", "/sms", smsBody(phone), { ...json, Origin: "https://evil.example" });
    expect(evil.status).toBe(403);
    const nullOrigin = await api.raw("POST", "/sms", smsBody(phone), { ...json, Origin: "null" });
    expect(nullOrigin.status).toBe(403);
    expect(await storedFor(phone)).toBe(0);

    const own = await api.raw("POST", "/sms", smsBody(phone), { ...json, Origin: api.baseUrl });
    expect(own.status).toBe(200);
    const allowed = await api.raw("POST", "/sms", smsBody(phone), {
      ...json,
      Origin: ALLOWED,
      "Sec-Fetch-Site": "same-site",
    });
    expect(allowed.status).toBe(200);
    expect(await storedFor(phone)).toBe(2);
  });

  it("a browser's text/plain body is never read as JSON, while a backend's JSON-shaped form still is", async () => {
    const rules = JSON.stringify({ phones: [{ minutes: 5, rate: 2 }] });
    // A form a page could post without a preflight, from an allowed origin: not JSON, so no rule.
    const browser = await api.raw("POST", "/limit/call", rules, { "Content-Type": "text/plain", Origin: ALLOWED });
    expect(browser.status).toBe(200);
    expect((await api.call("GET", "/limit/call")).body.content).toEqual({ ips: [], phones: [] });
    // Nor is a simple type with "json" in a parameter, which a page can send without a preflight too.
    for (const type of [
      "text/plain; x=json",
      "text/plain; charset=json",
      "application/x-www-form-urlencoded; a=json",
    ]) {
      const sneaky = await api.raw("POST", "/limit/call", rules, { "Content-Type": type, Origin: ALLOWED });
      expect(sneaky.status).toBe(200);
      expect((await api.call("GET", "/limit/call")).body.content).toEqual({ ips: [], phones: [] });
    }
    // `curl -d '{...}'` from a backend labels JSON as a form: read as JSON, as the original product's clients rely on.
    const curl = await api.raw("POST", "/limit/call", rules, { "Content-Type": "application/x-www-form-urlencoded" });
    expect(curl.status).toBe(200);
    expect((await api.call("GET", "/limit/call")).body.content).toEqual({ ips: [], phones: [{ minutes: 5, rate: 2 }] });
    await api.call("POST", "/limit/call", { phones: [] });
  });
});

it("accepts multipart bodies whatever the case of their boundary (browsers use upper case)", async () => {
  const phone = freshPhone();
  const boundary = "----WebKitFormBoundaryAbCdEf012345";
  const part = (name: string, value: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const body = `${part("phone", phone)}${part("password", "77")}${part("lifetime", "60")}--${boundary}--\r\n`;
  const answer = await api.raw("POST", "/call", body, { "Content-Type": `multipart/form-data; boundary=${boundary}` });
  expect(answer.status).toBe(200);
  expect(await storedFor(phone)).toBe(1);
});

describe("headers and pages", () => {
  it("every answer carries the security headers, failures included", async () => {
    for (const path of ["/health", "/no/such/route", "/limit/sms"]) {
      const answer = await api.raw("GET", path);
      expect(answer.headers["content-security-policy"], path).toBe(
        "default-src 'none'; base-uri 'none'; frame-ancestors 'none'",
      );
      expect(answer.headers["x-content-type-options"], path).toBe("nosniff");
      expect(answer.headers["x-frame-options"], path).toBe("DENY");
      expect(answer.headers["cache-control"], path).toBe("no-store");
      expect(answer.headers["cross-origin-resource-policy"], path).toBe("same-origin");
      expect(answer.headers["strict-transport-security"], path).toMatch(/^max-age=\d+/);
      // Headers that only govern an HTML document are not sent with JSON (every client parses them).
      expect(answer.headers["referrer-policy"], path).toBeUndefined();
      expect(answer.headers["x-xss-protection"], path).toBeUndefined();
    }
  });

  it("/docs, the one HTML page, also carries the document's headers; its assets may be cached", async () => {
    const page = await api.raw("GET", "/docs");
    expect(page.headers["referrer-policy"]).toBe("no-referrer");
    expect(page.headers["cross-origin-opener-policy"]).toBe("same-origin");
    expect(page.headers["cache-control"]).toBe("no-store");
    const asset = await api.raw("GET", "/docs/swagger-ui.css");
    expect(asset.headers["cache-control"]).toBe("public, max-age=86400");
    expect(asset.headers["x-content-type-options"]).toBe("nosniff");
  });

  it("/docs serves Swagger UI from the service itself, under a CSP that allows nothing else", async () => {
    const page = await api.raw("GET", "/docs");
    expect(page.status).toBe(200);
    expect(page.headers["content-security-policy"]).toMatch(/default-src 'none'; script-src 'self';/);
    const sources = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(sources).toEqual(["docs/swagger-ui.css", "docs/swagger-ui-bundle.js", "docs/init.js"]);
    for (const source of sources) {
      const asset = await api.raw("GET", `/${source}`);
      expect(asset.status, source).toBe(200);
      expect(asset.text.length, source).toBeGreaterThan(50);
    }
  });

  it("/livez answers without I/O or credentials", async () => {
    const guarded = await startTestApi({
      pg: db(),
      broker,
      env: { HTTP_AUTH_USERNAME: "u", HTTP_AUTH_PASSWORD: "p" },
    });
    try {
      expect((await guarded.raw("GET", "/livez")).json).toEqual({ status: true });
      expect((await guarded.raw("GET", "/sms/check")).status).toBe(401);
    } finally {
      await guarded.close();
    }
  });
});
