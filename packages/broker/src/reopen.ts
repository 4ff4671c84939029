/**
 * Opens a closed channel again, with backoff, one attempt at a time, for as long as it is wanted
 * (its connection lives, nothing else opened one, no stop): one failed reopen — RabbitMQ refusing a
 * channel for a while — must not leave a live connection without its publisher or its consumer
 * until the connection drops. One attempt at a time, because a failed open can both close its new
 * channel (whose `close` asks for a reopen) and reject (which asks too): two chains would each
 * open a channel.
 */
export class ChannelReopener {
  readonly #onFailure: (error: unknown, retryInMs: number) => void;
  readonly #maxDelayMs: number;
  #pending = false;

  constructor(onFailure: (error: unknown, retryInMs: number) => void, maxDelayMs = 5_000) {
    this.#onFailure = onFailure;
    this.#maxDelayMs = maxDelayMs;
  }

  /** Runs `open` after `delayMs` while `wanted()`, doubling the wait after each failure. */
  schedule(delayMs: number, open: () => Promise<void>, wanted: () => boolean): void {
    if (this.#pending) return;
    this.#pending = true;
    setTimeout(() => {
      if (!wanted()) {
        this.#pending = false;
        return;
      }
      open().then(
        () => {
          this.#pending = false;
        },
        (error: unknown) => {
          this.#pending = false;
          const next = Math.min(delayMs * 2, this.#maxDelayMs);
          this.#onFailure(error, next);
          this.schedule(next, open, wanted);
        },
      );
    }, delayMs).unref();
  }
}
