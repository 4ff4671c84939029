import { runDispatcherProcess } from "../../src/run.js";

/**
 * A dispatcher process for the tests that kill or stop one: the real process code, configured by
 * its environment, plus the short retry tiers passed as JSON in argv[2].
 */
const extra = JSON.parse(process.argv[2] ?? "{}") as { retryTiersMs?: number[] };
await runDispatcherProcess({ ...extra, random: () => 0.5, minReconnectDelayMs: 50 });
