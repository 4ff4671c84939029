import { fileURLToPath } from "node:url";
import type { PgConfig } from "@otp/contracts";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate as drizzleMigrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { type RetryOptions, retryWhileUnreachable } from "./retry.js";
import { quoteIdent } from "./sql/statement.js";

/** The committed migrations: `packages/db/migrations`, one level above both src/ and dist/. */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../migrations", import.meta.url));

const MIGRATIONS_TABLE = "__drizzle_migrations";

function clientConfig(config: PgConfig, database: string): pg.ClientConfig {
  return {
    host: config.realHost,
    port: config.port,
    database,
    user: config.user,
    password: config.password,
    application_name: "otp-migrate",
    connectionTimeoutMillis: 10_000,
  };
}

/** SQLSTATEs that mean another replica created the database first. */
const ALREADY_CREATED = new Set(["42P04", "23505"]);

/** Connects to the configured database, creating it first when it does not exist yet. */
async function connectCreatingDatabase(config: PgConfig, log: (msg: string) => void): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(config, config.database));
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => {});
    if ((error as { code?: string }).code !== "3D000") throw error;
  }
  const admin = new pg.Client(clientConfig(config, "postgres"));
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${quoteIdent(config.database)}`);
    log(`created database ${config.database}`);
  } catch (error) {
    if (!ALREADY_CREATED.has((error as { code?: string }).code ?? "")) throw error;
  } finally {
    await admin.end();
  }
  const retry = new pg.Client(clientConfig(config, config.database));
  await retry.connect();
  return retry;
}

export interface MigrateOptions {
  readonly log?: (message: string) => void;
  readonly migrationsFolder?: string;
}

/**
 * Brings the database up to date. Runs against `PG_REAL_HOST` (session-level advisory locks and
 * DDL do not belong behind a transaction pooler), creates the database and `PG_SCHEMA` when they
 * are missing, and holds an advisory lock so that replicas starting together apply each migration
 * exactly once: the others wait, then find nothing left to do.
 */
export async function migrate(config: PgConfig, options: MigrateOptions = {}): Promise<void> {
  const log = options.log ?? (() => {});
  const client = await connectCreatingDatabase(config, log);
  // An idle client that loses its server emits 'error'; the awaited queries report it anyway.
  client.on("error", () => {});
  try {
    await client.query("SELECT pg_advisory_lock(hashtextextended($1, 0))", [`otp-service:migrate`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(config.schema)}`);
    await client.query(`SET search_path TO ${quoteIdent(config.schema)}`);
    await drizzleMigrate(drizzle(client), {
      migrationsFolder: options.migrationsFolder ?? MIGRATIONS_FOLDER,
      migrationsSchema: config.schema,
      migrationsTable: MIGRATIONS_TABLE,
    });
    log(`database schema ${config.schema} is up to date`);
  } finally {
    await client.query("SELECT pg_advisory_unlock_all()").catch(() => {});
    await client.end();
  }
}

/** How many migrations have been applied, for tests and health reporting. */
export async function appliedMigrations(client: pg.ClientBase, schema: string): Promise<number> {
  const result = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${quoteIdent(schema)}.${quoteIdent(MIGRATIONS_TABLE)}`,
  );
  return result.rows[0]?.n ?? 0;
}

/**
 * Runs {@link migrate}, retrying with backoff while PostgreSQL is not reachable yet: either service
 * may start before the database does.
 */
export function migrateWhenReachable(config: PgConfig, options: RetryOptions): Promise<void> {
  const { log } = options;
  return retryWhileUnreachable("migrate the database", () => migrate(config, { log: (m) => log.info({}, m) }), options);
}
