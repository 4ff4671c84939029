import { loadConfigOrExit } from "@otp/contracts";
import { migrate } from "@otp/db";
import { createLogger } from "./logger.js";
import { startApi } from "./server.js";

/** A stop that has not finished by then is cut short, so an orchestrator's 10 s grace is met. */
const FORCE_EXIT_MS = 9_000;
const MIGRATE_ATTEMPTS = 60;

async function migrateWithRetry(run: () => Promise<void>, log: ReturnType<typeof createLogger>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (attempt >= MIGRATE_ATTEMPTS) throw error;
      log.warn({ err: error, attempt }, "cannot migrate the database yet; retrying");
      await new Promise((resolve) => setTimeout(resolve, Math.min(1_000 * attempt, 5_000)));
    }
  }
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger(config.logLevel);
  await migrateWithRetry(() => migrate(config.pg, { log: (message) => logger.info({}, message) }), logger);
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
