import type { PgConfig } from "@otp/contracts";
import { freePort, type NodeProcess, serviceEnv } from "@otp/testkit";
import { ENTRIES, startService } from "./processes.js";

export interface SystemConfig {
  readonly pg: PgConfig;
  readonly rabbitmqUrl: string;
  readonly prefix: string;
  readonly apiPort: number;
  readonly providerPort: number;
  readonly secret: string;
  /**
   * When set, the API subscribes the recording provider (path /webhook) to these lifecycle events
   * with this Standard Webhooks secret (OTP_WEBHOOK_URL), so that a run counts its webhooks too.
   */
  readonly webhooks?: { readonly secret: string; readonly events: readonly string[] };
}

const envOf = (c: SystemConfig, overrides: Record<string, string>) =>
  serviceEnv(
    { pg: c.pg, broker: { url: c.rabbitmqUrl, prefix: c.prefix }, secret: c.secret },
    {
      LOG_LEVEL: "info",
      ...(c.webhooks && {
        OTP_WEBHOOK_URL: `http://127.0.0.1:${c.providerPort}/webhook`,
        OTP_WEBHOOK_SECRET: c.webhooks.secret,
        OTP_WEBHOOK_EVENTS: c.webhooks.events.join(","),
        OTP_WEBHOOK_ALLOW_PRIVATE: "true",
      }),
      ...overrides,
    },
  );

/** The recording provider standing in for the Queue service (queue mode: every delivery is POST /task). */
export async function startProvider(c: SystemConfig): Promise<NodeProcess> {
  const p = startService("provider", ENTRIES.provider, ["--port", String(c.providerPort)], {});
  await p.waitForLog("recording provider listening", { timeoutMs: 15_000 });
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

/** Starts the API and resolves once `/health` says both the database and the broker answer. */
export async function startApi(c: SystemConfig, name: string): Promise<NodeProcess> {
  const p = startService(name, ENTRIES.api, [], envOf(c, { PORT: String(c.apiPort) }));
  await p.waitForLog("otp-api listening", { timeoutMs: 30_000 });
  await p.waitForHttp(`http://127.0.0.1:${c.apiPort}/health`, { timeoutMs: 20_000 });
  return p;
}

/** A dispatcher process and its health port. */
export interface DispatcherProcess extends NodeProcess {
  healthPort?: number;
}

/** Starts a dispatcher (every channel, queue mode, to the provider) and resolves once it consumes. */
export async function startDispatcher(c: SystemConfig, name: string): Promise<DispatcherProcess> {
  const healthPort = await freePort();
  const p: DispatcherProcess = startService(
    name,
    ENTRIES.dispatcher,
    [],
    envOf(c, {
      DISPATCHER_PORT: String(healthPort),
      OTP_DELIVERY_MODE: "queue",
      OTP_QUEUE_URL: `http://127.0.0.1:${c.providerPort}`,
    }),
  );
  await p.waitForLog("connected to RabbitMQ", { timeoutMs: 30_000 });
  p.healthPort = healthPort;
  return p;
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
  /** The body exactly as received: what a webhook's signature covers. */
  readonly body: string;
  readonly json: unknown;
  readonly receivedAt: number;
  readonly answer?: number | "reset" | "held";
}
