import { createLogger, deriveKeyring, parseConfig } from "@otp/contracts";
import type pg from "pg";
import { Registry } from "prom-client";
import { createApp } from "../../src/app.js";
import type { AppDeps } from "../../src/app-deps.js";
import { createMetrics } from "../../src/metrics.js";

/** An app over a pool that fails every query with `error`: for the error paths no database produces on demand. */
export function appWithFailingDatabase(error: Error, logs: string[] = []) {
  const parsed = parseConfig({});
  if (!parsed.ok) throw new Error(parsed.errors.join());
  const failing = {
    query: async () => {
      throw error;
    },
    connect: async () => {
      throw error;
    },
  } as unknown as pg.Pool;
  const deps: AppDeps = {
    config: parsed.config,
    pool: failing,
    keys: deriveKeyring("a test secret of some length"),
    clock: () => new Date(),
    logger: createLogger("otp-api", "info", {
      write(line: string) {
        logs.push(line);
      },
    }),
    metrics: createMetrics(new Registry()),
    afterCommit: () => {},
    brokerReady: () => true,
  };
  return createApp(deps);
}
