import { parseConfig } from "@otp/contracts";
import { ensureTemplate } from "@otp/db/testing/template";
import type { TestProject } from "vitest/node";

/**
 * Runs once per test run, before the integration project's first file (vitest.config.ts; the unit
 * project has no global setup): makes sure the migrated template database exists and tells the
 * test files its name and the broker's URL (useTestDatabase and useTestBroker read them).
 */
export default async function setup(project: TestProject): Promise<void> {
  const result = parseConfig(process.env);
  if (!result.ok) throw new Error(`bad test configuration:\n${result.errors.join("\n")}`);
  project.provide("pgTemplate", await ensureTemplate(result.config.pg));
  // The first address, should RABBITMQ_URL list several: the tests talk to one broker.
  project.provide("rabbitmqUrl", result.config.amqp.urls[0] as string);
}

declare module "vitest" {
  export interface ProvidedContext {
    pgTemplate: string;
    rabbitmqUrl: string;
  }
}
