import { BrokerUnavailableError, type Log } from "@otp/broker";
import type { PendingEvent } from "../domain/issue.js";
import type { DeleteBatcher } from "./delete-batcher.js";
import type { EventPublisher } from "./types.js";

/**
 * The fast path of the outbox: right after an OTP's transaction commits, its event is published
 * with a confirm and, once confirmed, its outbox row is deleted. The client does not wait for any
 * of it. When RabbitMQ is down the publish fails at once and the row stays for the relay.
 */
export class AfterCommitPublisher {
  readonly #publisher: EventPublisher;
  readonly #exchange: string;
  readonly #deletes: DeleteBatcher;
  readonly #log: Log;
  #inFlight = 0;
  #idle: (() => void) | undefined;

  constructor(publisher: EventPublisher, exchange: string, deletes: DeleteBatcher, log: Log) {
    this.#publisher = publisher;
    this.#exchange = exchange;
    this.#deletes = deletes;
    this.#log = log;
  }

  publish({ event, body }: PendingEvent): void {
    if (!this.#publisher.isReady) return; // the relay will take it once the broker is back
    this.#inFlight++;
    this.#publisher
      .publish(this.#exchange, event.channel, Buffer.from(body), { messageId: event.id })
      .then(
        () => this.#deletes.add(event.id),
        (error: Error) => {
          const level = error instanceof BrokerUnavailableError ? "debug" : "warn";
          this.#log[level]({ err: error, eventId: event.id }, "event left in the outbox for the relay");
        },
      )
      .finally(() => {
        this.#inFlight--;
        if (this.#inFlight === 0) this.#idle?.();
      });
  }

  /** Waits for the publishes in flight (at most `timeoutMs`), then sends the pending deletes. */
  async drain(timeoutMs: number): Promise<void> {
    if (this.#inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.#idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    await this.#deletes.flush();
  }
}
