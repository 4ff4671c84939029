import { type ChildProcess, spawn } from "node:child_process";
import { request } from "node:http";
import { fileURLToPath } from "node:url";
import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { freePort } from "@otp/testkit";
import { afterAll, describe, expect, it } from "vitest";

/** The real entry point, run from its TypeScript source, as `pnpm start:api` runs its build. */
const serviceDir = fileURLToPath(new URL("..", import.meta.url));
const db = useTestDatabase();
const broker = useTestBroker("api-proc");
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
});

interface Running {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

function run(env: Record<string, string>): Running {
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", "src/main.ts"], {
    cwd: serviceDir,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  child.stdout?.on("data", (d) => (output += d));
  child.stderr?.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

function envFor(port: number): Record<string, string> {
  const pg = db();
  return {
    PORT: String(port),
    PG_HOST: pg.host,
    PG_PORT: String(pg.port),
    PG_USER: pg.user,
    PG_PASSWORD: pg.password,
    PG_DATABASE: pg.database,
    RABBITMQ_URL: broker.url,
    RABBITMQ_PREFIX: broker.prefix,
    OTP_SECRET: "a process test secret, long enough",
  };
}

async function waitForHealth(port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the API did not become healthy");
}

describe("the process", () => {
  it("serves, and on SIGTERM finishes the request in flight, then exits 0 well within 10 s", async () => {
    const port = await freePort();
    const api = run(envFor(port));
    await waitForHealth(port);

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
    api.child.kill("SIGTERM");
    expect(await answer).toEqual({ status: 200, text: '{"status":false}' });
    expect(await api.exited).toBe(0);
    expect(Date.now() - stopping).toBeLessThan(10_000);
    expect(api.output()).toContain("otp-api stopped");
  });

  it("stops at start with exit 1 and a message naming each invalid variable", async () => {
    const bad = run({ ...envFor(await freePort()), PORT: "0", OTP_SECRET: "short" });
    expect(await bad.exited).toBe(1);
    expect(bad.output()).toContain('PORT: must be an integer from 1 to 65535, got "0"');
    expect(bad.output()).toContain("OTP_SECRET: must be at least 16 characters");
  });
});
