import { fileURLToPath } from "node:url";
import { type NodeProcess, startNode } from "@otp/testkit";
import { TEST_TIERS } from "./harness.js";

/** The dispatcher package: child processes run its TypeScript sources from here (no build needed). */
export const DISPATCHER_DIR = fileURLToPath(new URL("../..", import.meta.url));
const ENTRY = fileURLToPath(new URL("./child-entry.ts", import.meta.url));

/**
 * A dispatcher in a process of its own, for SIGKILL and SIGTERM, with the test's short retry tiers;
 * resolves once it consumes (its connection's setup has run).
 */
export async function startChildDispatcher(env: Record<string, string>, timeoutMs = 20_000): Promise<NodeProcess> {
  const child = startNode({
    name: "dispatcher",
    entry: ENTRY,
    args: [JSON.stringify({ retryTiersMs: TEST_TIERS })],
    cwd: DISPATCHER_DIR,
    env: { ...env, LOG_LEVEL: "info" },
  });
  try {
    await child.waitForLog("connected to RabbitMQ", { timeoutMs });
  } catch (error) {
    await child.kill();
    throw error;
  }
  return child;
}
