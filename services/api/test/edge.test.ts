import { connect, type Socket } from "node:net";
import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPhone, startTestApi, type TestApi } from "./support/harness.js";
import { httpRequest } from "./support/http.js";

/** The HTTP edge of docs/security.md: cross-site refusals, body parsing for browsers, headers, slow clients. */
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
      expect(answer.headers["content-security-policy"], path).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(answer.headers["x-content-type-options"], path).toBe("nosniff");
      expect(answer.headers["x-frame-options"], path).toBe("DENY");
      expect(answer.headers["referrer-policy"], path).toBe("no-referrer");
    }
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

/** Opens a connection that sends a request's headers and one byte of its declared 1,000-byte body, then stalls. */
function stalledBody(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.write("POST /sms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{");
      resolve(socket);
    });
    socket.on("error", () => {});
    socket.once("error", reject);
    // Read what the server answers (its 408): a socket nobody reads from never reports its close.
    socket.resume();
  });
}

describe("slow clients", () => {
  it("2,000 stalled bodies: /health and a real check still answer within a second; the stalled are cut at the timeout", async () => {
    const edge = await startTestApi({
      pg: db(),
      broker,
      env: { HTTP_REQUEST_TIMEOUT: "5", HTTP_HEADERS_TIMEOUT: "5", HTTP_CONNECTIONS_CHECK_INTERVAL: "0.5" },
    });
    const phone = freshPhone();
    const sockets: Socket[] = [];
    try {
      expect((await edge.raw("POST", "/sms", smsBody(phone), json)).status).toBe(200);
      const opened = Date.now();
      for (let i = 0; i < 2_000; i += 200) {
        sockets.push(...(await Promise.all(Array.from({ length: 200 }, () => stalledBody(edge.port)))));
      }
      const closedAt = sockets.map(
        (socket) => new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now()))),
      );
      const allOpen = Date.now();
      // The client runs in the server's process: let the server take in the burst of 2,000 requests
      // (each then waits for its body) before timing what a client behind them gets.
      await new Promise((resolve) => setTimeout(resolve, 1_000));

      const timed = async (path: string, body?: string) => {
        const started = Date.now();
        const answer = await httpRequest(edge.baseUrl, "GET", path, body === undefined ? {} : { body, headers: json });
        return { answer, ms: Date.now() - started };
      };
      const health = await timed("/health");
      expect(health.answer.status).toBe(200);
      expect(health.ms).toBeLessThan(1_000);
      const check = await timed("/sms/check", JSON.stringify({ phone, password: "4321" }));
      expect(check.answer.json).toEqual({ status: true });
      expect(check.ms).toBeLessThan(1_000);

      expect(sockets.every((socket) => !socket.closed)).toBe(true);

      // Each is cut within the request timeout (5 s from its start) plus the checking interval.
      const closed = await Promise.all(closedAt);
      const slowest = Math.max(...closed) - opened;
      expect(slowest).toBeLessThan(5_000 + 500 + (allOpen - opened) + 1_500);
      expect(Math.min(...closed) - opened).toBeGreaterThanOrEqual(4_500);
    } finally {
      for (const socket of sockets) socket.destroy();
      await edge.close();
    }
  });
});
