import { loadConfigOrExit } from "@otp/contracts";
import { type Dispatcher, type DispatcherOptions, startDispatcher } from "./dispatcher.js";
import { createLogger } from "./log.js";

/** SIGTERM must end the process within 10 s (SPEC §7); the drain itself stops at 7 s. */
const FORCE_EXIT_MS = 9_500;

/**
 * The process around a dispatcher: configuration from the environment, SIGTERM/SIGINT handling
 * (stop consuming, finish in-flight deliveries, close everything, exit 0 within 10 s). Whatever is
 * still unacked when the process ends, by a signal or a crash, is redelivered by RabbitMQ.
 */
export async function runDispatcherProcess(
  extra: Partial<Omit<DispatcherOptions, "config" | "log">> = {},
): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger(config.logLevel);
  let dispatcher: Dispatcher | undefined;
  let shuttingDown = false;

  const shutdown = (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ signal }, "stopping: no new deliveries, finishing those in flight");
    setTimeout(() => {
      log.error({}, "shutdown took too long; exiting anyway (unacked deliveries will be redelivered)");
      process.exit(0);
    }, FORCE_EXIT_MS).unref();
    if (!dispatcher) process.exit(0);
    dispatcher.stop().then(
      () => process.exit(0),
      (error) => {
        log.error({ err: error }, "error while stopping");
        process.exit(0);
      },
    );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));

  try {
    dispatcher = await startDispatcher({ config, log, ...extra });
  } catch (error) {
    log.fatal({ err: error }, "the dispatcher could not start");
    process.exit(1);
  }
}
