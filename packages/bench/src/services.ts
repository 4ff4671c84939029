import { serviceEnv as envForServices, freePort, type NodeProcess } from "@otp/testkit";
import type { Log } from "./log.js";
import type { BenchOptions } from "./options.js";
import type { Resources } from "./resources.js";
import type { Scratch } from "./scratch.js";

/** The processes every phase loads: the recording provider and the API, from their built `dist/`. */
export interface Services {
  readonly provider: NodeProcess;
  readonly providerUrl: string;
  readonly api: NodeProcess;
  readonly apiUrl: string;
  /** The variables the API runs with (every provider URL at the recording provider); dispatchers add theirs. */
  readonly env: Record<string, string>;
}

/** The provider first (every provider URL points at it), then the API; each waited for until it answers. */
export async function startServices(
  scratch: Scratch,
  resources: Resources,
  options: Pick<BenchOptions, "events" | "apiNodeArgs">,
  log: Log,
): Promise<Services> {
  const providerPort = await freePort();
  const provider = resources.spawn("provider", "packages/testkit/dist/recording-provider-cli.js", {
    args: ["--port", String(providerPort), "--max-records", String(options.events * 2 + 200_000)],
  });
  const providerUrl = `http://127.0.0.1:${providerPort}`;
  await provider.waitForHttp(`${providerUrl}/__control`, { timeoutMs: 60_000 });

  const env = envForServices(
    { pg: scratch.pg, broker: { url: scratch.amqpUrl, prefix: scratch.prefix }, secret: scratch.secret },
    {
      OTP_QUEUE_URL: providerUrl,
      OTP_SMS_URL: providerUrl,
      OTP_CALL_URL: providerUrl,
      OTP_EMAIL_URL: providerUrl,
      OTP_TELEGRAM_URL: providerUrl,
    },
  );
  const apiPort = await freePort();
  const api = resources.spawn("api", "services/api/dist/main.js", {
    env: { ...env, PORT: String(apiPort) },
    nodeArgs: options.apiNodeArgs,
  });
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  await api.waitForHttp(`${apiUrl}/health`, { timeoutMs: 60_000 });
  log(`API on ${apiUrl}, database ${scratch.pg.database}, prefix ${scratch.prefix}`);
  return { provider, providerUrl, api, apiUrl, env };
}

/** `count` dispatcher processes named `<name>-0`, `<name>-1` …, with the API's variables plus `env`. */
export function startDispatchers(
  resources: Resources,
  services: Services,
  options: Pick<BenchOptions, "dispatcherNodeArgs">,
  name: string,
  count: number,
  env: Record<string, string>,
): NodeProcess[] {
  return Array.from({ length: count }, (_, k) =>
    resources.spawn(`${name}-${k}`, "services/dispatcher/dist/main.js", {
      env: { ...services.env, ...env },
      nodeArgs: options.dispatcherNodeArgs,
    }),
  );
}
