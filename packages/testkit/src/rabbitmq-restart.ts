import { execFile } from "node:child_process";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { until } from "./until.js";

/**
 * Restarts the test run's RabbitMQ with `rabbitmqctl` (the application, not the Erlang VM): every
 * connection drops, queues go down and recover from disk, as in a broker restart. It disturbs every
 * other user of the broker, so only the suites that run alone use it (`*.disruptive.test.ts`, the
 * fault suite). No AMQP client here: rabbitmqctl and a TCP probe of the port are enough.
 *
 * Which rabbitmqctl: TEST_RABBITMQCTL if set (a command line, e.g. for a broker elsewhere);
 * otherwise the local one (the Debian package on the development and CI machines); without one,
 * the broker of docker-compose.yml's test-deps profile, through `docker compose exec`.
 */

const exec = promisify(execFile);
const COMPOSE_FILE = fileURLToPath(new URL("../../../docker-compose.yml", import.meta.url));

let resolved: Promise<string[]> | undefined;

function rabbitmqctl(): Promise<string[]> {
  resolved ??= (async () => {
    const configured = process.env.TEST_RABBITMQCTL?.trim();
    if (configured) return configured.split(/\s+/);
    const local = await exec("rabbitmqctl", ["-q", "version"], { timeout: 30_000 }).then(
      () => true,
      (error: NodeJS.ErrnoException) => error.code !== "ENOENT",
    );
    if (local) return ["rabbitmqctl"];
    return ["docker", "compose", "-f", COMPOSE_FILE, "exec", "-T", "test-rabbitmq", "rabbitmqctl"];
  })();
  return resolved;
}

/** Runs `rabbitmqctl -q <args>` (the one resolved above) and returns what it printed. */
export async function runRabbitmqctl(args: readonly string[], timeoutMs = 90_000): Promise<string> {
  const [command = "rabbitmqctl", ...prefix] = await rabbitmqctl();
  try {
    const { stdout } = await exec(command, [...prefix, "-q", ...args], { timeout: timeoutMs });
    return stdout;
  } catch (error) {
    // The Debian package's rabbitmqctl refuses other users ("Only root or rabbitmq should run …").
    const said = String((error as { stderr?: unknown }).stderr ?? "").trim() || String(error);
    throw new Error(
      `${[command, ...prefix, ...args].join(" ")} failed: ${said} — run the tests as root or the rabbitmq ` +
        `user, or set TEST_RABBITMQCTL (e.g. "sudo rabbitmqctl"; docs/development.md, "Tests")`,
      { cause: error },
    );
  }
}

const ctl = (args: string[], timeoutMs?: number) => runRabbitmqctl(args, timeoutMs);

/** When each step of an outage happened (epoch ms). From `downFrom` to `downUntil` the broker was surely down. */
export interface Outage {
  readonly stopIssuedAt: number;
  readonly downFrom: number;
  readonly downUntil: number;
  readonly upAt: number;
}

/**
 * `stop_app`, `downMs` of nothing (`whileDown` runs meanwhile), `start_app`, `await_startup`.
 * Whatever fails, the broker is started again before this returns or throws.
 */
export async function restartRabbitMq(
  downMs = 0,
  whileDown: () => Promise<void> = async () => {},
  url = "amqp://127.0.0.1:5672",
): Promise<Outage> {
  const stopIssuedAt = Date.now();
  try {
    await ctl(["stop_app"]);
    const downFrom = Date.now();
    await Promise.all([new Promise((r) => setTimeout(r, downMs)), whileDown()]);
    const downUntil = Date.now();
    await ctl(["start_app"]);
    await ctl(["await_startup"]);
    return { stopIssuedAt, downFrom, downUntil, upAt: Date.now() };
  } finally {
    await ensureRabbitMq(url);
  }
}

/** Starts the RabbitMQ application if its port does not accept connections (never leave it stopped). */
export async function ensureRabbitMq(url = "amqp://127.0.0.1:5672"): Promise<void> {
  const target = new URL(url);
  const host = target.hostname === "localhost" ? "127.0.0.1" : target.hostname;
  const port = Number(target.port || 5672);
  if (await portOpen(host, port)) return;
  await ctl(["start_app"]).catch(async () => {
    // The whole node is down (not only the application): start it, where it is local.
    if ((await rabbitmqctl())[0] === "rabbitmqctl") await exec("rabbitmq-server", ["-detached"]).catch(() => {});
  });
  await until(() => portOpen(host, port), { timeoutMs: 120_000, intervalMs: 500, what: `RabbitMQ on ${host}:${port}` });
  await ctl(["await_startup"]).catch(() => {});
}

/** Whether a TCP connection to `host:port` opens within a second. */
export function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.setTimeout(1_000);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}
