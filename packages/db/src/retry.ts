/** The slice of a pino logger the start-up steps use. */
export interface StartupLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface RetryOptions {
  readonly log: StartupLog;
  /** Give up (throw the last error) after this long; the process then exits and its supervisor restarts it. */
  readonly giveUpAfterMs?: number;
}

/**
 * Runs a start-up step that needs PostgreSQL, retrying with capped backoff while it fails: either
 * service may start before the database does (compose, Kubernetes, a host reboot).
 */
export async function retryWhileUnreachable<T>(
  what: string,
  step: () => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const { log, giveUpAfterMs = 300_000 } = options;
  const deadline = Date.now() + giveUpAfterMs;
  let delay = 500;
  for (;;) {
    try {
      return await step();
    } catch (error) {
      if (Date.now() + delay > deadline) throw error;
      log.warn({ err: error, retryInMs: delay }, `cannot ${what} yet; retrying`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 5_000);
    }
  }
}
