import type { Logger } from "@otp/contracts";

/**
 * A background job run every `intervalMs` by each API process (the counter sweeper, the
 * `otp.expired` sweeper, retention): never two runs of it at once in one process (a tick that
 * finds the last run still going is skipped), a failed run logged and retried at the next tick, the
 * timer unref'd so that it never keeps the process alive, and `stop()` waiting for a run in flight.
 */
export class PeriodicJob {
  readonly #run: () => Promise<unknown>;
  readonly #intervalMs: number;
  readonly #onError: (error: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(options: {
    run: () => Promise<unknown>;
    intervalMs: number;
    logger: Logger;
    /** The log message of a failed run. */
    failure: string;
  }) {
    this.#run = options.run;
    this.#intervalMs = options.intervalMs;
    this.#onError = (error) => options.logger.warn({ err: error }, options.failure);
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      this.#running ??= this.#run()
        .then(() => {})
        .catch(this.#onError)
        .finally(() => {
          this.#running = undefined;
        });
    }, this.#intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
