import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type NodeProcess, startNode } from "@otp/testkit";

/** The repository root: the services run from their builds under it. */
export const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
/** Every child's output, one file per process, kept after the run for diagnostics (git-ignored). */
export const LOG_DIR = join(ROOT, "test/faults/logs");

export const ENTRIES = {
  api: "services/api/dist/main.js",
  dispatcher: "services/dispatcher/dist/main.js",
  provider: "packages/testkit/dist/recording-provider-cli.js",
} as const;

/**
 * One service as a separate node process (the built JS, as `pnpm start:*` runs it), its output in
 * `LOG_DIR/<name>.log` and its last 400 lines in memory.
 */
export function startService(name: string, entry: string, args: string[], env: Record<string, string>): NodeProcess {
  mkdirSync(LOG_DIR, { recursive: true });
  return startNode({ name, entry, args, env, cwd: ROOT, logFile: join(LOG_DIR, `${name}.log`), keepLines: 400 });
}
