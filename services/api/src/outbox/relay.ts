import type { Log } from "@otp/broker";
import type { OutboxRow, OutboxSql } from "@otp/db";
import type pg from "pg";
import type { Clock } from "../clock.js";
import { withTransaction } from "../db/transaction.js";
import type { EventPublisher } from "./types.js";

export interface RelayOptions {
  readonly pool: pg.Pool;
  /** The outbox statements: `createSql(tables).outbox`. */
  readonly sql: OutboxSql;
  readonly publisher: EventPublisher;
  readonly exchange: string;
  readonly clock: Clock;
  readonly log: Log;
  /** Pause between runs that found less than a full batch. */
  readonly intervalMs?: number;
  /** Rows younger than this belong to the fast path, which is probably publishing them right now. */
  readonly graceMs?: number;
  readonly batchSize?: number;
  /**
   * How long `stop()` waits for a pass in progress. A publish can hang (a connection lost before
   * the heartbeat notices it), and SIGTERM must still end within its 10 s.
   */
  readonly stopTimeoutMs?: number;
}

/** How `stop()` ended: the pass in progress finished, or it was abandoned at the timeout. */
export type RelayStop = "finished" | "abandoned";

/** The pass `stop()` gave up on; its transaction rolls back, so its rows stay for the next relay. */
class RelayAbandoned extends Error {
  override readonly name = "RelayAbandoned";
}

/** How long an abandoned pass gets to roll back and hand its connection back to the pool. */
export const ABANDON_GRACE_MS = 500;

/**
 * Publishes what the fast path left behind (broker down, confirm lost, crash between commit and
 * publish). It claims the oldest rows by their state with FOR UPDATE SKIP LOCKED, never with an
 * id cursor (ids are handed out at insert, not at commit, so a cursor would skip late commits);
 * any number of API replicas can run it at once, each claiming different rows.
 */
export class OutboxRelay {
  readonly #o: Required<RelayOptions>;
  #stopped = true;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #failing = false;
  /** Aborted by `stop()` at its timeout: a pass stuck in publish gives up and rolls back. */
  #abandon = new AbortController();

  constructor(options: RelayOptions) {
    this.#o = { intervalMs: 1_000, graceMs: 5_000, batchSize: 500, stopTimeoutMs: 3_000, ...options };
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#abandon = new AbortController();
    this.#loop = this.#run();
  }

  /**
   * Stops the loop, waiting at most `timeoutMs` for a pass in progress. A pass still publishing
   * then is abandoned: it rolls back, its rows stay unpublished (another replica, or this one
   * after a restart, relays them), and shutdown goes on instead of hanging on the broker. Should
   * one of its publishes be confirmed after all, the event goes out twice: a duplicate the event id
   * absorbs, as everywhere else.
   */
  async stop(timeoutMs = this.#o.stopTimeoutMs): Promise<RelayStop> {
    this.#stopped = true;
    this.#wake?.();
    const loop = this.#loop;
    if (!loop) return "finished";
    if (await settlesWithin(loop, timeoutMs)) return "finished";
    this.#o.log.warn(
      { timeoutMs },
      "outbox relay still publishing at stop; abandoning the pass, its rows stay in the outbox",
    );
    this.#abandon.abort(new RelayAbandoned("outbox relay stopped"));
    await settlesWithin(loop, ABANDON_GRACE_MS);
    return "abandoned";
  }

  /** One pass: claims up to a batch, publishes it, deletes what was confirmed. Returns that count. */
  async runOnce(): Promise<number> {
    const { pool, sql, publisher, exchange, clock, graceMs, batchSize } = this.#o;
    const abandon = this.#abandon.signal;
    if (!publisher.isReady) return 0;
    return withTransaction(pool, async (client) => {
      const createdBefore = new Date(clock().getTime() - graceMs);
      const { rows } = await client.query<OutboxRow>(sql.claim({ createdBefore, limit: batchSize }));
      // stop() may have given up on this pass while it waited for a connection or for the claim:
      // shutdown has moved on (broker and pool closing), so publishing now would race it. Throwing
      // rolls the claim back; the rows stay for the next relay.
      if (abandon.aborted) throw abandon.reason;
      if (rows.length === 0) return 0;
      const results = await unlessAborted(
        Promise.allSettled(
          rows.map((row) => publisher.publish(exchange, row.channel, Buffer.from(row.body), { messageId: row.id })),
        ),
        abandon,
      );
      const confirmed: string[] = [];
      const failed: string[] = [];
      const errors: string[] = [];
      results.forEach((result, i) => {
        const id = rows[i]?.id as string;
        if (result.status === "fulfilled") confirmed.push(id);
        else {
          failed.push(id);
          errors.push(String((result.reason as Error)?.message ?? result.reason).slice(0, 500));
        }
      });
      if (confirmed.length > 0) await client.query(sql.deletePublished({ ids: confirmed }));
      if (failed.length > 0) await client.query(sql.recordFailures({ ids: failed, errors }));
      this.#o.log.info({ published: confirmed.length, failed: failed.length }, "outbox relay published events");
      return confirmed.length;
    });
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      let published = 0;
      try {
        published = await this.runOnce();
        if (this.#failing) this.#o.log.info({}, "outbox relay works again");
        this.#failing = false;
      } catch (error) {
        if (error instanceof RelayAbandoned) break;
        if (!this.#failing) this.#o.log.warn({ err: error }, "outbox relay failed; retrying");
        this.#failing = true;
      }
      // A full batch suggests a backlog: go on at once.
      if (published < this.#o.batchSize) await this.#sleep(this.#o.intervalMs);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/**
 * `work`, or the signal's reason once it is aborted. The listener belongs to this call and is
 * removed when it ends: a reaction left on one long-lived promise per pass would hold every
 * pass's results until shutdown.
 */
async function unlessAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) throw signal.reason;
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** Whether `promise` settles within `ms`; it is never rejected-through, only waited for. */
function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    const done = () => {
      clearTimeout(timer);
      resolve(true);
    };
    promise.then(done, done);
  });
}
