import { request } from "node:http";
import { fileURLToPath } from "node:url";
import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { freePort, killAll, type NodeProcess, serviceEnv, startNode } from "@otp/testkit";
import { afterAll, describe, expect, it } from "vitest";

/** The real entry point, run from its TypeScript source, as `pnpm start:api` runs its build. */
const serviceDir = fileURLToPath(new URL("..", import.meta.url));
const db = useTestDatabase();
const broker = useTestBroker("api-proc");
afterAll(killAll);

const run = (env: Record<string, string>): NodeProcess =>
  startNode({ name: "api", entry: "src/main.ts", cwd: serviceDir, env });

const envFor = (port: number): Record<string, string> =>
  serviceEnv({ pg: db(), broker, secret: "a process test secret, long enough" }, { PORT: String(port) });

describe("the process", () => {
  it("serves, and on SIGTERM finishes the request in flight, then exits 0 well within 10 s", async () => {
    const port = await freePort();
    const api = run(envFor(port));
    await api.waitForHttp(`http://127.0.0.1:${port}/health`, { timeoutMs: 20_000 });

    // A check whose body arrives slowly: in flight when SIGTERM comes.
    const body = JSON.stringify({ phone: "77010000042", password: "1" });
    const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port,
          method: "GET",
          path: "/sms/check",
          headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) },
        },
        (res) => {
          let text = "";
          res.on("data", (d) => (text += d));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on("error", reject);
      req.write(body.slice(0, 10));
      setTimeout(() => req.end(body.slice(10)), 500);
    });
    await new Promise((r) => setTimeout(r, 200));
    const stopping = Date.now();
    api.signal("SIGTERM");
    expect(await answer).toEqual({ status: 200, text: '{"status":false}' });
    expect((await api.exited).code).toBe(0);
    expect(Date.now() - stopping).toBeLessThan(10_000);
    expect(api.output()).toContain("otp-api stopped");
  });

  it("stops at start with exit 1 and a message naming each invalid variable", async () => {
    const bad = run({ ...envFor(await freePort()), PORT: "0", OTP_SECRET: "short" });
    expect((await bad.exited).code).toBe(1);
    expect(bad.output()).toContain('PORT: must be an integer from 1 to 65535, got "0"');
    expect(bad.output()).toContain("OTP_SECRET: must be at least 16 characters");
  });
});
