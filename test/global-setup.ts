import { parseConfig } from "@otp/contracts";
import { ensureTemplate } from "@otp/db/testing/template";
import type { TestProject } from "vitest/node";

/**
 * Runs once per test run, before any test file: makes sure the migrated template database exists
 * and tells the test files its name (see test/support.ts).
 */
export default async function setup(project: TestProject): Promise<void> {
  const result = parseConfig(process.env);
  if (!result.ok) throw new Error(`bad test configuration:\n${result.errors.join("\n")}`);
  project.provide("pgTemplate", await ensureTemplate(result.config.pg));
  project.provide("rabbitmqUrl", result.config.amqp.url);
}

declare module "vitest" {
  export interface ProvidedContext {
    pgTemplate: string;
    rabbitmqUrl: string;
  }
}
