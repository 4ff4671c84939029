import { fileURLToPath } from "node:url";
import type { PgConfig } from "@otp/contracts";
import { type NodeProcess, RecordingProvider, serviceEnv, startNode } from "@otp/testkit";

/** The dispatcher package: its real entry point runs from its TypeScript sources. */
const DISPATCHER_DIR = fileURLToPath(new URL("../../../dispatcher", import.meta.url));

export interface DeliveringDispatcher {
  /** Stands in for the SMS, Email and Telegram services (direct mode). */
  readonly provider: RecordingProvider;
  readonly process: NodeProcess;
  close(): Promise<void>;
}

/**
 * A real dispatcher process beside a test's API (same database, broker names and secret),
 * delivering straight to a recording provider: for tests that follow a request to what a provider
 * receives, and to what the dispatcher stores and logs when the provider fails.
 */
export async function startDeliveringDispatcher(options: {
  readonly pg: PgConfig;
  readonly broker: { readonly url: string; readonly prefix: string };
  readonly secret: string;
}): Promise<DeliveringDispatcher> {
  const provider = new RecordingProvider();
  await provider.start();
  const process = startNode({
    name: "dispatcher",
    entry: "src/main.ts",
    cwd: DISPATCHER_DIR,
    env: serviceEnv(options, {
      OTP_DELIVERY_MODE: "direct",
      OTP_SMS_URL: provider.url,
      OTP_CALL_URL: provider.url,
      OTP_EMAIL_URL: provider.url,
      OTP_TELEGRAM_URL: provider.url,
      OTP_DELIVERY_TIMEOUT: "5",
      DISPATCHER_PORT: "0",
      LOG_LEVEL: "info",
    }),
  });
  try {
    await process.waitForLog("connected to RabbitMQ", { timeoutMs: 30_000 });
  } catch (error) {
    await process.kill();
    await provider.stop();
    throw error;
  }
  return {
    provider,
    process,
    async close() {
      await process.kill();
      await provider.stop();
    },
  };
}
