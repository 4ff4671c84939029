import { type Keyring, openSubscriptionSigner, type Signer } from "@otp/contracts";
import { createTables, type SubscriptionRow, webhookDeliverySql } from "@otp/db";
import type pg from "pg";

/** A subscription as a send needs it. */
export interface Subscription {
  /** Never logged: it may carry credentials in its query string. */
  readonly url: string;
  /** Undefined when the sealed secret does not open with this service's key (or is not a whsec_ secret). */
  readonly signer: Signer | undefined;
}

export interface SubscriptionSource {
  /** The subscription, or undefined when it was deleted; rejects on a database error. */
  get(id: string): Promise<Subscription | undefined>;
}

/** How long a subscription (or its absence) is kept: a deleted one stops receiving within this. */
export const SUBSCRIPTION_TTL_MS = 5_000;
const MAX_ENTRIES = 10_000;

/**
 * The subscriptions, read by id from PostgreSQL and kept a few seconds per process, so that a
 * burst of events costs one read per subscription, not one per webhook. The secret is opened
 * (keyring, bound to the subscription's id) once per read. Concurrent reads of one id share one
 * query; a failed read is not kept.
 */
export class SubscriptionCache implements SubscriptionSource {
  readonly #pool: pg.Pool;
  readonly #sql: ReturnType<typeof webhookDeliverySql>;
  readonly #keys: Keyring;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, { readonly at: number; readonly value: Promise<Subscription | undefined> }>();

  constructor(options: { pool: pg.Pool; schema: string; keys: Keyring; ttlMs?: number; now?: () => number }) {
    this.#pool = options.pool;
    this.#sql = webhookDeliverySql(createTables(options.schema));
    this.#keys = options.keys;
    this.#ttlMs = options.ttlMs ?? SUBSCRIPTION_TTL_MS;
    this.#now = options.now ?? Date.now;
  }

  get(id: string): Promise<Subscription | undefined> {
    const now = this.#now();
    const entry = this.#entries.get(id);
    if (entry && now - entry.at < this.#ttlMs) return entry.value;
    const value = this.#load(id);
    const fresh = { at: now, value };
    this.#entries.delete(id);
    this.#entries.set(id, fresh);
    if (this.#entries.size > MAX_ENTRIES) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    value.catch(() => {
      if (this.#entries.get(id) === fresh) this.#entries.delete(id);
    });
    return value;
  }

  async #load(id: string): Promise<Subscription | undefined> {
    const { rows } = await this.#pool.query<SubscriptionRow>(this.#sql.subscriptionOf({ id }));
    const row = rows[0];
    if (!row) return undefined;
    return { url: row.url, signer: openSubscriptionSigner(this.#keys, row.secret_cipher, id) };
  }
}
