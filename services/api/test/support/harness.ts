import { Writable } from "node:stream";
import { type Config, createLogger, type PgConfig, parseConfig } from "@otp/contracts";
import { type RunningApi, startApi } from "../../src/server.js";
import { type TestClock, testClock } from "./clock.js";
import { httpRequest, type RawResponse } from "./http.js";

export interface TestApiOptions {
  readonly pg: PgConfig;
  readonly broker: { readonly url: string; readonly prefix: string };
  /** Extra variables, parsed like the real environment (`OTP_SINGLE_USE: "true"`, ...). */
  readonly env?: Record<string, string>;
  /** Relay timing; by default fast, so outage tests do not wait seconds. */
  readonly relay?: { intervalMs?: number; graceMs?: number; batchSize?: number };
  /** Retention's batches; passes run only when a test calls `retention.pass()` unless it sets `intervalMs`. */
  readonly retention?: { intervalMs?: number; batchSize?: number; pauseMs?: number };
  /** Share another instance's clock: replicas of one deployment agree on the time. */
  readonly clock?: TestClock;
}

export interface TestApi extends RunningApi {
  readonly config: Config;
  readonly clock: TestClock;
  readonly baseUrl: string;
  /** Every log line the API wrote, as text. */
  readonly logs: string[];
  /** In-process: `app.request` with a JSON body (not possible on GET), a form or a query string. */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer>;
  /** Over the socket, any method with any body. */
  raw(method: string, path: string, body?: string, headers?: Record<string, string>): Promise<RawResponse>;
}

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown> & { status?: boolean; status_code?: string; message?: string };
}

export function testConfig(options: Pick<TestApiOptions, "pg" | "broker" | "env">): Config {
  const parsed = parseConfig({ LOG_LEVEL: "debug", ...options.env });
  if (!parsed.ok) throw new Error(parsed.errors.join("\n"));
  return { ...parsed.config, pg: options.pg, amqp: { urls: [options.broker.url], prefix: options.broker.prefix } };
}

/** The real wiring of `main.ts` (pool, broker, outbox, relay, app, server) on a test database and prefix. */
export async function startTestApi(options: TestApiOptions): Promise<TestApi> {
  const config = testConfig(options);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const clock = options.clock ?? testClock();
  const api = await startApi(config, {
    logger: createLogger("otp-api", config.logLevel, sink),
    clock: clock.now,
    port: 0,
    broker: { confirmTimeoutMs: 3_000, minReconnectDelayMs: 50, maxReconnectDelayMs: 250 },
    relay: { intervalMs: 100, graceMs: 300, ...options.relay },
    retention: { intervalMs: 3_600_000, pauseMs: 10, ...options.retention },
    drainMs: 1_000,
  });
  await api.broker.connection.waitForConnection(10_000).catch(() => {});
  const baseUrl = `http://127.0.0.1:${api.port}`;
  return {
    ...api,
    close: api.close,
    config,
    clock,
    baseUrl,
    logs,
    async call(method, path, body, headers = {}) {
      const init: RequestInit = { method, headers: { ...headers } };
      if (body !== undefined) {
        init.body = typeof body === "string" ? body : JSON.stringify(body);
        if (typeof body !== "string") (init.headers as Record<string, string>)["Content-Type"] = "application/json";
      }
      const res = await api.app.request(path, init);
      const text = await res.text();
      let parsed: Answer["body"] = {};
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON
      }
      return { status: res.status, headers: res.headers, body: parsed };
    },
    raw: (method, path, body, headers) =>
      httpRequest(baseUrl, method, path, body === undefined ? { headers } : { body, headers }),
  };
}

/** A phone number no other test of the file uses. */
let phoneCounter = 0;
export function freshPhone(): string {
  phoneCounter++;
  return `7701${String(process.pid % 1000).padStart(3, "0")}${String(phoneCounter).padStart(4, "0")}`;
}
