import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { connect } from "node:net";
import { promisify } from "node:util";
import { sleep, until } from "./processes.js";

/**
 * Stops and starts the local PostgreSQL and RabbitMQ (Debian packages, as on the development and
 * CI machines). This disturbs every other user of those servers: run the fault suite alone.
 */

const exec = promisify(execFile);

async function run(command: string, args: string[], timeoutMs = 90_000): Promise<void> {
  await exec(command, args, { timeout: timeoutMs });
}

function pgVersion(): string {
  const versions = readdirSync("/etc/postgresql").sort();
  const version = versions.at(-1);
  if (!version) throw new Error("no cluster under /etc/postgresql");
  return version;
}

/** `fast` (default: sessions cut, clean shutdown) or `immediate` (a crash: recovery at start). */
function pgStopMode(): string {
  const mode = process.env.FAULTS_PG_STOP_MODE ?? "fast";
  if (mode !== "fast" && mode !== "immediate")
    throw new Error(`FAULTS_PG_STOP_MODE must be fast or immediate, got "${mode}"`);
  return mode;
}

const pgctl = (action: "start" | "stop") =>
  run("pg_ctlcluster", [
    "--skip-systemctl-redirect",
    pgVersion(),
    "main",
    action,
    ...(action === "stop" ? ["--", "-m", pgStopMode()] : []),
  ]);

function portOpen(port: number, host = "127.0.0.1"): Promise<boolean> {
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

const pgReady = () =>
  exec("pg_isready", ["-h", "127.0.0.1", "-p", "5432", "-q"], { timeout: 5_000 }).then(
    () => true,
    () => false,
  );

/** When each step of an outage happened (epoch ms). `down` is the stretch the server was surely down. */
export interface Outage {
  readonly stopIssuedAt: number;
  readonly downFrom: number;
  readonly downUntil: number;
  readonly upAt: number;
}

/** `rabbitmqctl stop_app`, `downMs` of nothing (`whileDown` runs then), `start_app`, `await_startup`. */
export async function restartRabbitMq(
  downMs: number,
  whileDown: () => Promise<void> = async () => {},
): Promise<Outage> {
  const stopIssuedAt = Date.now();
  try {
    await run("rabbitmqctl", ["-q", "stop_app"]);
    const downFrom = Date.now();
    await Promise.all([sleep(downMs), whileDown()]);
    const downUntil = Date.now();
    await run("rabbitmqctl", ["-q", "start_app"]);
    await run("rabbitmqctl", ["-q", "await_startup"]);
    return { stopIssuedAt, downFrom, downUntil, upAt: Date.now() };
  } finally {
    await ensureRabbitMq();
  }
}

export const PG_STOP_MODE = pgStopMode();

/** `pg_ctlcluster ... stop` (FAULTS_PG_STOP_MODE, default fast), `downMs` of nothing (`whileDown` runs then), start. */
export async function restartPostgres(
  downMs: number,
  whileDown: () => Promise<void> = async () => {},
): Promise<Outage> {
  const stopIssuedAt = Date.now();
  try {
    await pgctl("stop");
    const downFrom = Date.now();
    await Promise.all([sleep(downMs), whileDown()]);
    const downUntil = Date.now();
    await pgctl("start");
    if (!(await until(pgReady, 60_000, 200))) throw new Error("PostgreSQL did not come back");
    return { stopIssuedAt, downFrom, downUntil, upAt: Date.now() };
  } finally {
    await ensurePostgres();
  }
}

/** Starts PostgreSQL if it is not accepting connections (never leave it stopped). */
export async function ensurePostgres(): Promise<void> {
  if (await pgReady()) return;
  await pgctl("start").catch(() => {});
  await until(pgReady, 60_000, 200);
}

/** Starts the RabbitMQ application (or the whole node) if it is not accepting connections. */
export async function ensureRabbitMq(): Promise<void> {
  if (await portOpen(5672)) return;
  await run("rabbitmqctl", ["-q", "start_app"]).catch(() => run("rabbitmq-server", ["-detached"]).catch(() => {}));
  await until(() => portOpen(5672), 120_000, 500);
  await run("rabbitmqctl", ["-q", "await_startup"]).catch(() => {});
}
