import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deriveKeyring, type Keyring, type PgConfig, parseConfig } from "@otp/contracts";
import pg from "pg";

/**
 * The names of one run, its own so that it shares nothing with tests running meanwhile: a scratch
 * database and broker prefix (dropped at the end), a master secret, a work directory (pgbench's
 * script and logs, the services' logs).
 */
export interface Scratch {
  /** The environment's PostgreSQL settings with the scratch database `otp_bench_<tag>`. */
  readonly pg: PgConfig;
  /** RabbitMQ names under `bench.<tag>`. */
  readonly prefix: string;
  readonly amqpUrl: string;
  readonly secret: string;
  readonly keys: Keyring;
  readonly workDir: string;
  /** `<workDir>/logs`: one file per service process. */
  readonly logDir: string;
}

/** Reads PostgreSQL and RabbitMQ from the environment as the services do (docs/configuration.md). */
export function createScratch(): Scratch {
  const base = parseConfig(process.env);
  if (!base.ok) throw new Error(base.errors.join("\n"));
  const tag = `${process.pid}_${Date.now().toString(36)}`;
  const secret = "bench-secret-0123456789abcdef";
  const workDir = mkdtempSync(join(tmpdir(), "otp-bench-"));
  const logDir = join(workDir, "logs");
  mkdirSync(logDir);
  return {
    pg: { ...base.config.pg, database: `otp_bench_${tag}`, schema: "public" },
    prefix: `bench.${tag}`,
    // The first node, should RABBITMQ_URL list a cluster's: the benchmark talks to one broker.
    amqpUrl: base.config.amqp.urls[0] as string,
    secret,
    keys: deriveKeyring(secret),
    workDir,
    logDir,
  };
}

/** node-postgres settings for `c`, on the real server (`realHost`: past a pooler such as PgBouncer). */
export function clientOf(c: PgConfig): pg.ClientConfig {
  return { host: c.realHost, port: c.port, user: c.user, password: c.password, database: c.database };
}

/** Drops the scratch database, sessions still open on it included. */
export async function dropScratchDatabase(c: PgConfig): Promise<void> {
  const admin = new pg.Client({ ...clientOf(c), database: "postgres" });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${c.database}" WITH (FORCE)`);
  await admin.end();
}
