import type pg from "pg";
import { isDatabaseUnavailable } from "./unavailable.js";

/**
 * Runs `work` in a transaction on one pooled client: BEGIN, work, COMMIT; ROLLBACK on any error.
 * A client whose connection broke is destroyed rather than returned to the pool.
 *
 * The pool stops listening to a client's `error` while it is checked out, and node-postgres emits
 * one whenever the connection ends unexpectedly (PostgreSQL restarted, the network cut): unheard,
 * it is an uncaught exception that ends the process. So it is heard here, for as long as the client
 * is out; the statement that meets the broken connection fails on its own and takes the usual way.
 */
export async function withTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (error: Error) => {
    broken = error;
  };
  client.on("error", onError);
  try {
    await client.query("BEGIN");
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    if (isDatabaseUnavailable(error)) broken = error as Error;
    else await client.query("ROLLBACK").catch((rollbackError: Error) => (broken = rollbackError));
    throw error;
  } finally {
    client.off("error", onError);
    client.release(broken);
  }
}
