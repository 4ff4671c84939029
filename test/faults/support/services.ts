import type { PgConfig } from "@otp/contracts";
import { ENTRIES, type Exit, freePort, ServiceProcess, until } from "./processes.js";

export interface SystemConfig {
  readonly pg: PgConfig;
  readonly rabbitmqUrl: string;
  readonly prefix: string;
  readonly apiPort: number;
  readonly providerPort: number;
  readonly secret: string;
}

function commonEnv(c: SystemConfig): Record<string, string> {
  return {
    LOG_LEVEL: "info",
    PG_HOST: c.pg.host,
    PG_REAL_HOST: c.pg.realHost,
    PG_PORT: String(c.pg.port),
    PG_USER: c.pg.user,
    PG_PASSWORD: c.pg.password,
    PG_DATABASE: c.pg.database,
    PG_SCHEMA: c.pg.schema,
    RABBITMQ_URL: c.rabbitmqUrl,
    RABBITMQ_PREFIX: c.prefix,
    OTP_SECRET: c.secret,
  };
}

/** The recording provider standing in for the Queue service (queue mode: every delivery is POST /task). */
export async function startProvider(c: SystemConfig): Promise<ServiceProcess> {
  const p = new ServiceProcess("provider", ENTRIES.provider, ["--port", String(c.providerPort)], {});
  await p.waitForLog((l) => l.msg === "recording provider listening", 15_000, "listening");
  return p;
}

export async function health(port: number): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(3_000) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body };
}

export async function healthStatus(port: number): Promise<number> {
  return (await health(port)).status;
}

/** Starts the API and resolves once `/health` says both the database and the broker answer. */
export async function startApi(c: SystemConfig, name: string): Promise<ServiceProcess> {
  const p = new ServiceProcess(name, ENTRIES.api, [], { ...commonEnv(c), PORT: String(c.apiPort) });
  await p.waitForLog((l) => l.msg === "otp-api listening", 30_000, "otp-api listening");
  if (!(await until(async () => (await healthStatus(c.apiPort)) === 200, 20_000))) {
    throw new Error(`${name} never became healthy\n${p.tail(30)}`);
  }
  return p;
}

/** A dispatcher process and its health port. */
export interface DispatcherProcess extends ServiceProcess {
  healthPort?: number;
}

/** Starts a dispatcher (every channel, queue mode, to the provider) and resolves once it consumes. */
export async function startDispatcher(c: SystemConfig, name: string): Promise<DispatcherProcess> {
  const healthPort = await freePort();
  const p: DispatcherProcess = new ServiceProcess(name, ENTRIES.dispatcher, [], {
    ...commonEnv(c),
    DISPATCHER_PORT: String(healthPort),
    OTP_DELIVERY_MODE: "queue",
    OTP_QUEUE_URL: `http://127.0.0.1:${c.providerPort}`,
  });
  await p.waitForLog((l) => l.msg === "connected to RabbitMQ", 30_000, "connected to RabbitMQ");
  p.healthPort = healthPort;
  return p;
}

/** SIGTERM, then the exit and how long it took (SIGKILL after `limitMs` so the run goes on). */
export async function stopGracefully(p: ServiceProcess, limitMs: number): Promise<Exit & { tookMs: number }> {
  const started = Date.now();
  p.signal("SIGTERM");
  const timer = setTimeout(() => p.signal("SIGKILL"), limitMs);
  const exit = await p.exited;
  clearTimeout(timer);
  return { ...exit, tookMs: exit.at - started };
}

/** The recording provider's control endpoints, over HTTP (it is another process). */
export class ProviderControl {
  readonly #base: string;

  constructor(port: number) {
    this.#base = `http://127.0.0.1:${port}`;
  }

  async #call(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.#base}${path}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
      signal: AbortSignal.timeout(30_000),
    });
    if (!res.ok) throw new Error(`provider ${method} ${path}: HTTP ${res.status}`);
    return res.json();
  }

  addRules(rules: unknown[]): Promise<unknown> {
    return this.#call("POST", "/__control/rules", rules);
  }

  clearRules(): Promise<unknown> {
    return this.#call("DELETE", "/__control/rules");
  }

  /** Every answer waits this long: a real provider's latency, so deliveries are in flight when a fault hits. */
  setDelay(ms: number): Promise<unknown> {
    return this.#call("POST", "/__control/delay", { ms });
  }

  hold(): Promise<unknown> {
    return this.#call("POST", "/__control/hold");
  }

  release(): Promise<unknown> {
    return this.#call("POST", "/__control/release");
  }

  async snapshot(): Promise<{ held: number; recorded: number; holding: boolean }> {
    return (await this.#call("GET", "/__control")) as { held: number; recorded: number; holding: boolean };
  }

  async requests(): Promise<ProviderRecord[]> {
    return ((await this.#call("GET", "/__requests")) as { requests: ProviderRecord[] }).requests;
  }
}

export interface ProviderRecord {
  readonly seq: number;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly json: unknown;
  readonly receivedAt: number;
  readonly answer?: number | "reset" | "held";
}
