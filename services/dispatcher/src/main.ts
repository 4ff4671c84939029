import { loadConfigOrExit } from "@otp/contracts";
import { type Dispatcher, startDispatcher } from "./dispatcher.js";
import { createLogger } from "./log.js";

/** The delivery process: `pnpm start:dispatcher`. SIGTERM/SIGINT drain and exit 0 within 10 s. */
const config = loadConfigOrExit();
const log = createLogger(config.logLevel);
const FORCE_EXIT_MS = 9_500;

let dispatcher: Dispatcher | undefined;
let shuttingDown = false;

function shutdown(signal: string): void {
  if (shuttingDown) return;
  shuttingDown = true;
  log.info({ signal }, "stopping: no new deliveries, finishing those in flight");
  // Whatever is still unacked when this fires is redelivered by RabbitMQ: nothing is lost.
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
}

process.once("SIGTERM", () => shutdown("SIGTERM"));
process.once("SIGINT", () => shutdown("SIGINT"));

try {
  dispatcher = await startDispatcher({ config, log });
} catch (error) {
  log.fatal({ err: error }, "the dispatcher could not start");
  process.exit(1);
}
