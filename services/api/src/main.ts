import { createLogger, exitOnStopSignal, loadConfigOrExit } from "@otp/contracts";
import { migrateWhenReachable } from "@otp/db";
import { startApi } from "./server.js";

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger("otp-api", config.logLevel);
  await migrateWhenReachable(config.pg, { log: logger });
  const api = await startApi(config, { logger });
  // close() is budgeted to end well before the force exit (shutdown-budget.ts).
  exitOnStopSignal(logger, () => api.close());
}

main().catch((error) => {
  process.stderr.write(`otp-api failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
