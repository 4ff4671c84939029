import type { PgConfig } from "@otp/contracts";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import pg from "pg";
import { createTables, type Tables } from "./schema.js";
import { createSql, type Sql } from "./sql/index.js";

// timestamptz comes back as Date (pg's default); bigint counts as numbers, they stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export interface PoolOptions {
  /** Shown in pg_stat_activity, so an operator can tell the api from the dispatcher. */
  readonly applicationName: string;
  /** Idle clients can fail (server restart); without a listener that error would kill the process. */
  readonly onError: (error: Error) => void;
  /** Connection attempts give up after this long, so callers see the outage instead of hanging. */
  readonly connectTimeoutMs?: number;
  /** Overrides the configured host; the migrator uses PG_REAL_HOST. */
  readonly host?: string;
  readonly max?: number;
}

/** A pool to `PG_HOST` (which may be a pooler such as PgBouncer). */
export function createPool(config: PgConfig, options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    host: options.host ?? config.host,
    port: config.port,
    database: config.database,
    user: config.user,
    password: config.password,
    max: options.max ?? config.poolMax,
    application_name: options.applicationName,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  });
  pool.on("error", options.onError);
  return pool;
}

export type Database = NodePgDatabase<Record<string, never>>;

export interface Db {
  readonly db: Database;
  readonly tables: Tables;
  /** The statements of `sql/` for these tables, and the pool to send them to. */
  readonly sql: Sql;
  readonly pool: pg.Pool;
}

/** Drizzle over a pool, with the tables of the configured schema and their statements. */
export function createDb(pool: pg.Pool, schemaName: string): Db {
  const tables = createTables(schemaName);
  return { db: drizzle(pool), tables, sql: createSql(tables), pool };
}

/**
 * Whether PostgreSQL answers `SELECT 1` within `timeoutMs`: health probes answer promptly instead
 * of waiting out a pool's connect timeout.
 */
export async function databaseAnswers(pool: pg.Pool, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const query = pool.query("SELECT 1").then(
    () => true,
    () => false,
  );
  try {
    return await Promise.race([query, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
