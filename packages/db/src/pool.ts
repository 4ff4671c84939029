import type { PgConfig } from "@otp/contracts";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import pg from "pg";
import { createTables, type Tables } from "./schema.js";

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
}

/** Drizzle over a pool, with the tables of the configured schema. */
export function createDb(pool: pg.Pool, schemaName: string): Db {
  return { db: drizzle(pool), tables: createTables(schemaName) };
}
