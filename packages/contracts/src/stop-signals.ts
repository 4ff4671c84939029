import type { Logger } from "pino";

/**
 * How long a stop may take before the process exits anyway. Orchestrators wait 10 s after SIGTERM
 * before they SIGKILL (Docker's and Kubernetes' default grace); a second is left for the exit
 * itself. Both services budget their own stop to end well before this (docs/operations.md).
 */
export const FORCE_EXIT_MS = 9_000;

/**
 * The one stop policy of both services: on the first SIGTERM or SIGINT, `stop()` runs; the process
 * exits 0 when it resolves, 1 when it rejects, and 1 when it has not finished after
 * `forceExitMs` — a stop cut short is a failure an operator should see. Whatever a cut-short stop
 * leaves behind is safe by design: unacked deliveries are redelivered, unpublished events stay in
 * the outbox.
 */
export function exitOnStopSignal(log: Logger, stop: () => Promise<void>, forceExitMs = FORCE_EXIT_MS): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    setTimeout(() => {
      log.error({ forceExitMs }, "stop took too long; exiting");
      process.exit(1);
    }, forceExitMs).unref();
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, "error while stopping");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
}
