import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { promisify } from "node:util";
import { type Outage, sleep, until } from "@otp/testkit";

/**
 * Stops and starts the local PostgreSQL (the Debian package, as on the development and CI
 * machines; RabbitMQ's restart is @otp/testkit's restartRabbitMq). This disturbs every other user
 * of the server: run the fault suite alone.
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

const pgReady = () =>
  exec("pg_isready", ["-h", "127.0.0.1", "-p", "5432", "-q"], { timeout: 5_000 }).then(
    () => true,
    () => false,
  );

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
    await until(pgReady, { timeoutMs: 60_000, intervalMs: 200, what: "PostgreSQL to come back" });
    return { stopIssuedAt, downFrom, downUntil, upAt: Date.now() };
  } finally {
    await ensurePostgres();
  }
}

/** Starts PostgreSQL if it is not accepting connections (never leave it stopped). */
export async function ensurePostgres(): Promise<void> {
  if (await pgReady()) return;
  await pgctl("start").catch(() => {});
  await until(pgReady, { timeoutMs: 60_000, intervalMs: 200 }).catch(() => {});
}
