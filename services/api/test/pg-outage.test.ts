import { TcpProxy, useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPhone, startTestApi, type TestApi } from "./support/harness.js";

/**
 * PostgreSQL "goes down" for this one API instance: it reaches the database through a TCP proxy the
 * test cuts, while the real server keeps serving every other test file.
 */
const db = useTestDatabase();
const broker = useTestBroker("api-pgdown");
let proxy: TcpProxy;
let api: TestApi;

beforeAll(async () => {
  const real = db();
  proxy = new TcpProxy("127.0.0.1", real.port);
  const port = await proxy.start();
  api = await startTestApi({ pg: { ...real, host: "127.0.0.1", realHost: "127.0.0.1", port }, broker });
});
afterAll(async () => {
  await proxy?.restore();
  await api?.close();
  await proxy?.stop();
});

const envelope = { status: false, status_code: "unavailable", message: expect.any(String) };

describe("PostgreSQL down", () => {
  it("every request that needs the database answers 503 unavailable in the envelope; it recovers on its own", async () => {
    const phone = freshPhone();
    expect((await api.call("POST", "/sms", { phone, password: "1", lifetime: 60, message: "m" })).status).toBe(200);

    await proxy.cut();
    const requests: [string, string, unknown?][] = [
      ["POST", "/sms", { phone, password: "2", lifetime: 60, message: "m" }],
      ["GET", `/sms/check?phone=${phone}&password=1`],
      ["POST", "/limit/sms", { phones: [] }],
      ["GET", "/limit/sms"],
      ["GET", `/password?target=${phone}`],
      ["GET", "/target?password=1&channel=sms"],
      ["GET", "/otp/00000000-0000-4000-8000-000000000000"],
      ["POST", "/telegram/webhook", { update_id: 1, message: { chat: { id: 5 } } }],
    ];
    for (const [method, path, body] of requests) {
      const started = Date.now();
      const answer = await api.call(method, path, body);
      expect(answer.status, `${method} ${path}`).toBe(503);
      expect(answer.body).toEqual(envelope);
      expect(Date.now() - started).toBeLessThan(6_000);
    }
    // /health probes at most once a second: it may say what it saw up to a second ago.
    await expect
      .poll(async () => (await api.call("GET", "/health")).body, { timeout: 5_000 })
      .toEqual({ status: false, content: { database: false, broker: true } });
    expect((await api.call("GET", "/health")).status).toBe(503);

    await proxy.restore();
    await expect
      .poll(async () => (await api.call("GET", `/sms/check?phone=${phone}&password=1`)).body, { timeout: 10_000 })
      .toEqual({ status: true });
    await expect.poll(async () => (await api.call("GET", "/health")).status, { timeout: 3_000 }).toBe(200);
    expect((await api.call("POST", "/sms", { phone, password: "3", lifetime: 60, message: "m" })).status).toBe(200);
  });
});
