import { loadConfigOrExit } from "@otp/contracts";
import { migrateWhenReachable } from "@otp/db";
import { createLogger } from "./logger.js";
import { startApi } from "./server.js";
// A stop that has not finished by then is cut short, so an orchestrator's 10 s grace is met;
// close() is budgeted to end well before it (see shutdown-budget.ts).
import { FORCE_EXIT_MS } from "./shutdown-budget.js";

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger(config.logLevel);
  await migrateWhenReachable(config.pg, { log: logger });
  const api = await startApi(config, { logger });

  const stop = (signal: string) => {
    logger.info({ signal }, "stopping");
    setTimeout(() => {
      logger.error({}, "stop took too long; exiting");
      process.exit(1);
    }, FORCE_EXIT_MS).unref();
    api.close().then(
      () => process.exit(0),
      (error) => {
        logger.error({ err: error }, "error while stopping");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}

main().catch((error) => {
  process.stderr.write(`otp-api failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
