import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { useTestBroker } from "@otp/broker/testing";
import { newWebhookSecret } from "@otp/contracts";
import { useTestDatabase } from "@otp/db/testing";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "./support/harness.js";

const db = useTestDatabase();
const broker = useTestBroker("api-policy-hook");
const secret = newWebhookSecret();

/** The risk engine: answers as `behaviour` says, and keeps what it received once verified. */
type Behaviour = "allow" | "deny" | "slow" | "fail" | "nonsense";
let behaviour: Behaviour = "allow";
const received: { body: Record<string, unknown>; headers: IncomingMessage["headers"] }[] = [];
let hook: Server;
let open: TestApi;
let closed: TestApi;

function startHook(): Promise<string> {
  hook = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      // Verified with the Standard Webhooks library, over the exact bytes received.
      const body = new Webhook(secret).verify(text, req.headers as Record<string, string>) as Record<string, unknown>;
      received.push({ body, headers: req.headers });
      if (behaviour === "slow") return void setTimeout(() => res.end('{"action":"allow"}'), 1000);
      if (behaviour === "fail") return void res.writeHead(500).end("{}");
      res.setHeader("content-type", "application/json");
      res.end(behaviour === "nonsense" ? '{"action":"maybe"}' : JSON.stringify({ action: behaviour }));
    });
  });
  return new Promise((resolve) =>
    hook.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`)),
  );
}

beforeAll(async () => {
  const url = await startHook();
  const env = (fail: string) => ({
    OTP_PRESEND_HOOK_URL: url,
    OTP_PRESEND_HOOK_SECRET: secret,
    OTP_PRESEND_HOOK_ALLOW_PRIVATE: "true",
    OTP_PRESEND_HOOK_TIMEOUT_MS: "200",
    OTP_PRESEND_HOOK_FAIL: fail,
  });
  open = await startTestApi({ pg: db(), broker, env: env("open") });
  closed = await startTestApi({ pg: db(), broker, clock: open.clock, env: env("closed") });
  await open.call("POST", "/policy/sms", { mode: "enforce" });
  await closed.call("POST", "/policy/sms", {});
});
afterAll(async () => {
  await open?.close();
  await closed?.close();
  hook?.close();
});
beforeEach(() => {
  behaviour = "allow";
  received.length = 0;
});

let counter = 0;
const phone = () => `7701300${String(counter++).padStart(4, "0")}`;
const sms = (api: TestApi, to: string, ip?: string) =>
  api.call("POST", "/sms", { phone: to, password: "1234", lifetime: 300, message: "Code {password}", ip });

describe("the pre-send hook", () => {
  it("receives {channel, target, country, prefix, ip}, signed the Standard Webhooks way; allow sends", async () => {
    const to = phone();
    const answer = await sms(open, to, "203.0.113.7");
    expect(answer.status).toBe(200);
    expect(received).toHaveLength(1);
    expect(received[0]?.body).toEqual({
      channel: "sms",
      target: to,
      country: "KZ",
      prefix: to.slice(0, 6),
      ip: "203.0.113.7",
    });
    expect(received[0]?.headers["webhook-id"]).toMatch(/^msg_/);
    expect(received[0]?.headers["webhook-signature"]).toMatch(/^v1,/);
  });

  it("deny: 403 hook_denied, whatever OTP_PRESEND_HOOK_FAIL says", async () => {
    behaviour = "deny";
    for (const api of [open, closed]) {
      const answer = await sms(api, phone());
      expect(answer.status).toBe(403);
      expect(answer.body).toEqual({
        status: false,
        status_code: "hook_denied",
        message: "The pre-send hook denied this number",
      });
    }
  });

  it("a timeout, an error or a nonsense answer sends under fail open and refuses under fail closed", async () => {
    for (const b of ["slow", "fail", "nonsense"] as const) {
      behaviour = b;
      expect((await sms(open, phone())).status).toBe(200);
      const refused = await sms(closed, phone());
      expect(refused.status).toBe(403);
      expect(refused.body.status_code).toBe("hook_denied");
      expect(refused.body.message).toMatch(
        /^The pre-send hook failed \((timeout|error|invalid)\); refused, as configured$/,
      );
    }
  });

  it("is not asked for a safelisted number, nor when the lists already refused, nor in mode off", async () => {
    const safe = phone();
    await open.call("POST", "/policy/sms", { safelist: [safe], countries: { deny: ["RU"] } });
    await closed.call("POST", "/policy/sms", {});
    expect((await sms(open, safe)).status).toBe(200);
    expect((await sms(open, "79161234567")).status).toBe(403);
    await open.call("POST", "/policy/sms", { mode: "off" });
    expect((await sms(open, phone())).status).toBe(200);
    expect(received).toEqual([]);
    await open.call("POST", "/policy/sms", { mode: "enforce", safelist: [], countries: { deny: [] } });
    await closed.call("POST", "/policy/sms", {});
  });

  it("is not asked for a create refused as bad input: no ip where the channel has ip rules is a 400 first", async () => {
    await open.call("POST", "/limit/sms", { ips: [{ minutes: 10, rate: 5 }] });
    try {
      const to = phone();
      const answer = await sms(open, to);
      expect(answer.status).toBe(400);
      expect(answer.body.message).toBe('"ip" parameter must be set (this channel has ip limits)');
      expect(received).toEqual([]);
      expect((await sms(open, to, "203.0.113.9")).status).toBe(200);
      expect(received).toHaveLength(1);
    } finally {
      await open.call("POST", "/limit/sms", { ips: [] });
    }
  });

  it("monitor mode asks too, and records a deny as would_block hook", async () => {
    behaviour = "deny";
    await open.call("POST", "/policy/sms", { mode: "monitor" });
    const created = await sms(open, phone());
    expect(created.status).toBe(200);
    const id = (created.body.content as { id: string }).id;
    expect(((await open.call("GET", `/otp/${id}`)).body.content as { policy: unknown }).policy).toEqual({
      decision: "would_block",
      rule: "hook",
    });
    await open.call("POST", "/policy/sms", { mode: "enforce" });
  });

  it("the full number leaves only in the hook's body: never in a log line, a metric or an answer", async () => {
    const numbers: string[] = [];
    for (const b of ["allow", "deny", "slow", "fail", "nonsense"] as const) {
      behaviour = b;
      for (const api of [open, closed]) {
        const to = phone();
        numbers.push(to);
        const answer = await sms(api, to);
        expect(JSON.stringify(answer.body)).not.toContain(to);
      }
    }
    const metrics =
      (await (await open.app.request("/metrics")).text()) + (await (await closed.app.request("/metrics")).text());
    expect(metrics).toMatch(/otp_presend_hook_total\{channel="sms",result="timeout"\} [1-9]/);
    const logs = [...open.logs, ...closed.logs].join("\n");
    expect(logs).toContain("the pre-send hook failed");
    for (const to of numbers) {
      expect(logs).not.toContain(to);
      expect(metrics).not.toContain(to);
    }
  });
});
