import type { Log } from "./log.js";

/**
 * The publishes of one ConfirmPublisher awaiting their confirm, and the messages confirmed while a
 * copy of them was refused: what lets the publisher never have one message sent twice at once on
 * an open channel (see ConfirmPublisher.publish; docs/operations.md, "Outages").
 */

/** A publish awaiting its confirm; `contested` once a copy of it was refused, or its confirm timed out. */
export interface Outstanding {
  readonly exchange: string;
  readonly routingKey: string;
  readonly messageId: string;
  readonly headers: unknown;
  contested: boolean;
  key?: string;
}

/** How many confirms are remembered for a copy that was refused meanwhile. */
const CONFIRMED_KEPT = 100_000;

/**
 * One message: its id, where it goes and its headers. Not its body: the relay's copy of an event is
 * the outbox row's JSON as PostgreSQL prints it, not the text the create first published; a
 * retry's next copy carries its event's id and body, but other headers.
 */
function keyOf(message: Outstanding): string {
  message.key ??= [message.messageId, message.exchange, message.routingKey, JSON.stringify(message.headers ?? {})].join(
    "\u0000",
  );
  return message.key;
}

export class OutstandingPublishes {
  readonly #byId = new Map<string, Outstanding[]>();
  /** Keys of messages confirmed while a copy of them was refused, with when. */
  readonly #confirmed = new Map<string, number>();
  readonly #log: Log;
  /** How long a publish whose confirm timed out still holds back its copies. */
  readonly #unconfirmedKeptMs: number;
  /** How long a confirm is remembered for the copy that was refused (the relay's next passes). */
  readonly #confirmedKeptMs: number;

  constructor(log: Log, unconfirmedKeptMs: number, confirmedKeptMs: number) {
    this.#log = log;
    this.#unconfirmedKeptMs = unconfirmedKeptMs;
    this.#confirmedKeptMs = confirmedKeptMs;
  }

  /** Whether RabbitMQ has confirmed this message lately while a copy was refused (forgotten on asking). */
  takeConfirmed(message: Outstanding): boolean {
    if (this.#confirmed.size === 0) return false;
    const expired = Date.now() - this.#confirmedKeptMs;
    for (const [key, at] of this.#confirmed) {
      if (at >= expired) break;
      this.#confirmed.delete(key);
    }
    return this.#confirmed.delete(keyOf(message));
  }

  /** The same message already awaiting its confirm, marked contested; undefined if none. */
  contest(message: Outstanding): Outstanding | undefined {
    const twin = this.#byId.get(message.messageId)?.find((other) => keyOf(other) === keyOf(message));
    if (twin) twin.contested = true;
    return twin;
  }

  track(message: Outstanding): void {
    const list = this.#byId.get(message.messageId);
    if (list) list.push(message);
    else this.#byId.set(message.messageId, [message]);
  }

  /** Whether it was still tracked (a channel close or the expiry below may have dropped it). */
  untrack(message: Outstanding): boolean {
    const list = this.#byId.get(message.messageId);
    const at = list?.indexOf(message) ?? -1;
    if (!list || at < 0) return false;
    list.splice(at, 1);
    if (list.length === 0) this.#byId.delete(message.messageId);
    return true;
  }

  /** Its confirm: remembered when taken and a copy was refused, so that the copy resolves unsent. */
  settle(message: Outstanding, taken: boolean): void {
    if (!this.untrack(message) || !taken || !message.contested) return;
    this.#confirmed.set(keyOf(message), Date.now());
    if (this.#confirmed.size > CONFIRMED_KEPT) {
      const oldest = this.#confirmed.keys().next().value;
      if (oldest !== undefined) this.#confirmed.delete(oldest);
    }
  }

  /** Its confirm timed out on the open channel: held back a while, not for ever (a confirm may never come). */
  timedOut(message: Outstanding): void {
    message.contested = true; // its caller will publish it again: that one waits for this one
    setTimeout(() => {
      if (this.untrack(message)) {
        this.#log.warn({ messageId: message.messageId }, "no confirm after a long wait; the message may be sent again");
      }
    }, this.#unconfirmedKeptMs).unref();
  }

  /** The channel closed: none of them will be confirmed now, and each may be sent again. */
  clear(): void {
    this.#byId.clear();
  }
}
