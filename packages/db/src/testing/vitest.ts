import { type PgConfig, parseConfig } from "@otp/contracts";
import { afterAll, beforeAll, inject } from "vitest";
import { createTestDatabase, type TestDatabase } from "./test-database.js";

/** The PostgreSQL settings of the test run: the same variables as the services, defaults for local. */
export function basePgConfig(): PgConfig {
  const result = parseConfig(process.env);
  if (!result.ok) throw new Error(result.errors.join("\n"));
  return result.config.pg;
}

const NEEDS_SERVICES =
  "useTestDatabase() needs PostgreSQL: put this test in a test/ directory (the integration project, with " +
  "the global setup), not beside the code in src/, where unit tests run without services";

/**
 * Gives the calling test file a fresh migrated database, created before its tests and dropped
 * after them. Call at the top level of the file; read the result inside tests or hooks.
 */
export function useTestDatabase(): () => PgConfig {
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    const template = inject("pgTemplate");
    if (!template) throw new Error(NEEDS_SERVICES);
    database = await createTestDatabase(basePgConfig(), template);
  });
  afterAll(async () => {
    await database?.drop();
  });
  return () => {
    if (!database) throw new Error("useTestDatabase(): the database exists only once beforeAll has run");
    return database.config;
  };
}
