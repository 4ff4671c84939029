import { createLogger, exitOnStopSignal, loadConfigOrExit } from "@otp/contracts";
import { type Dispatcher, type DispatcherOptions, startDispatcher } from "./dispatcher.js";

/**
 * The process around a dispatcher: configuration from the environment and the services' one stop
 * policy (stop consuming, finish in-flight deliveries, close everything, exit 0; force exit after
 * FORCE_EXIT_MS). Whatever is still unacked when the process ends, by a signal or a crash, is
 * redelivered by RabbitMQ.
 */
export async function runDispatcherProcess(
  extra: Partial<Omit<DispatcherOptions, "config" | "log">> = {},
): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger("otp-dispatcher", config.logLevel);
  let dispatcher: Dispatcher | undefined;
  // A signal during start-up (still waiting for PostgreSQL, say) has nothing to stop yet.
  exitOnStopSignal(log, async () => dispatcher?.stop());
  try {
    dispatcher = await startDispatcher({ config, log, ...extra });
  } catch (error) {
    log.fatal({ err: error }, "the dispatcher could not start");
    process.exit(1);
  }
}
