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
  /** A query unanswered this long fails with a QueryTimeoutError (default: `PG_QUERY_TIMEOUT`). */
  readonly queryTimeoutMs?: number;
}

/**
 * How long a pooled connection idles before TCP keepalive probes start: they keep it known to NATs
 * and firewalls that silently forget idle flows, and find a peer that is gone while it idles rather
 * than on its next query.
 */
const KEEPALIVE_IDLE_MS = 10_000;

/**
 * A query that got no answer within the pool's query timeout; its connection is closed. Its code
 * is the one a socket reports when its peer stopped answering, which callers already take for
 * "PostgreSQL unavailable" (services/api/src/db/unavailable.ts): the API answers 503 and tries no
 * ROLLBACK on that connection; the dispatcher holds the message and tries the step again.
 */
export class QueryTimeoutError extends Error {
  override readonly name = "QueryTimeoutError";
  readonly code = "ETIMEDOUT";
}

/**
 * A pool to `PG_HOST` (which may be a pooler such as PgBouncer). Every query is bounded
 * (`PG_QUERY_TIMEOUT`, docs/configuration.md): a server that died, or a network that drops packets
 * without a reset, never answers, and the socket only gives up once the kernel's retransmissions do
 * (about 15 minutes on Linux); until then an API request hangs and a dispatcher holds its messages
 * (docs/delivery.md, "The guarantee: at least once"). The default, 60 s, is generous because the API
 * shares this pool: its longest statements — a retention batch (docs/performance.md, "Retention
 * under load"), a `/stats` window (docs/statistics.md, "Cost") — take tens of milliseconds on the
 * sizes measured, and a large window on a busy service may take seconds. Migrations run on a client
 * of their own (migrate.ts), without this bound: they wait for another replica's migration lock.
 */
export function createPool(config: PgConfig, options: PoolOptions): pg.Pool {
  const queryTimeoutMs = options.queryTimeoutMs ?? config.queryTimeoutMs;
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
    query_timeout: queryTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
  });
  pool.on("error", options.onError);
  pool.on("connect", (client) => endOnReadTimeout(client, queryTimeoutMs));
  return pool;
}

type AnyQuery = (this: pg.ClientBase, ...args: unknown[]) => unknown;
type QueryCallback = (error: unknown, result?: unknown) => void;

/**
 * What happens when node-postgres's read timeout (`query_timeout`) fires on one of this pool's
 * clients. node-postgres rejects the query with a plain "Query read timeout" but leaves it on the
 * connection, where every later query of that client would queue behind it: so the client is ended
 * at once (its socket destroyed; a pool drops an ended client when it comes back), and the query
 * rejects with a QueryTimeoutError. Whichever way the query was made: with a callback (as the
 * pool's own `query` does) or for a promise (drizzle, transactions). Submittables (cursors) are
 * left alone; none is used here.
 */
function endOnReadTimeout(client: pg.PoolClient, timeoutMs: number): void {
  // The class's method, looked up at each call (not captured now): what wraps it later (a test's
  // count of round trips) still sees every query.
  const prototype = Object.getPrototypeOf(client) as { query: AnyQuery };
  const relabel = (error: unknown): unknown => {
    if (!(error instanceof Error) || error.message !== "Query read timeout") return error;
    client.end().catch(() => {});
    return new QueryTimeoutError(`PostgreSQL did not answer within ${timeoutMs} ms`, { cause: error });
  };
  const bounded: AnyQuery = function (this: pg.ClientBase, ...args) {
    const query = prototype.query;
    if (typeof (args[0] as { submit?: unknown } | null)?.submit === "function") return query.apply(this, args);
    const at = typeof args[1] === "function" ? 1 : typeof args[2] === "function" ? 2 : -1;
    if (at === -1) {
      return (query.apply(this, args) as Promise<unknown>).catch((error: unknown) => {
        throw relabel(error);
      });
    }
    const callback = args[at] as QueryCallback;
    args[at] = ((error, result) => callback(error ? relabel(error) : error, result)) satisfies QueryCallback;
    return query.apply(this, args);
  };
  client.query = bounded as unknown as typeof client.query;
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
