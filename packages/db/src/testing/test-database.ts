import { randomBytes } from "node:crypto";
import type { PgConfig } from "@otp/contracts";
import { adminClient, TEST_DB_PREFIX } from "./template.js";

export interface TestDatabase {
  /** The configuration a service under test gets: the fresh database, schema `public`. */
  readonly config: PgConfig;
  drop(): Promise<void>;
}

/** A fresh, migrated database of its own for one test file, copied from the template. */
export async function createTestDatabase(base: PgConfig, template: string): Promise<TestDatabase> {
  const name = `${TEST_DB_PREFIX}${process.pid}_${randomBytes(4).toString("hex")}`;
  const admin = await adminClient(base);
  try {
    await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
  } finally {
    await admin.end();
  }
  return {
    config: { ...base, database: name, schema: "public" },
    async drop() {
      const client = await adminClient(base);
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
