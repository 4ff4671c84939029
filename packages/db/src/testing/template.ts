import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { PgConfig } from "@otp/contracts";
import pg from "pg";
import { MIGRATIONS_FOLDER, migrate } from "../migrate.js";

/**
 * Test databases are copies of a template that holds the migrated schema. The template's name
 * carries a hash of the migrations, so it is built once per change of the migrations and reused by
 * every later run; copying it (CREATE DATABASE ... TEMPLATE) takes milliseconds.
 */

export const TEST_DB_PREFIX = "otp_t_";

function migrationsHash(): string {
  const hash = createHash("sha256");
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else hash.update(entry.name).update(readFileSync(path));
    }
  };
  walk(MIGRATIONS_FOLDER);
  return hash.digest("hex").slice(0, 12);
}

const quote = (name: string) => `"${name}"`;

export async function adminClient(base: PgConfig): Promise<pg.Client> {
  const client = new pg.Client({
    host: base.realHost,
    port: base.port,
    user: base.user,
    password: base.password,
    database: "postgres",
    application_name: "otp-tests",
  });
  await client.connect();
  return client;
}

/** Builds the template for the current migrations if it does not exist; returns its name. */
export async function ensureTemplate(base: PgConfig): Promise<string> {
  const name = `otp_tpl_${migrationsHash()}`;
  const admin = await adminClient(base);
  try {
    // Two test runs at once (a developer and CI) must not both build it.
    await admin.query("SELECT pg_advisory_lock(hashtextextended('otp-tests:template', 0))");
    const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (exists.rowCount === 0) {
      const building = `${name}_build`;
      await admin.query(`DROP DATABASE IF EXISTS ${quote(building)}`);
      await admin.query(`CREATE DATABASE ${quote(building)}`);
      await migrate({ ...base, database: building, schema: "public" });
      await admin.query(`ALTER DATABASE ${quote(building)} RENAME TO ${quote(name)}`);
    }
    await dropStaleTestDatabases(admin);
    return name;
  } finally {
    await admin.query("SELECT pg_advisory_unlock_all()").catch(() => {});
    await admin.end();
  }
}

/** Test databases left by runs that were killed: their worker process no longer exists. */
async function dropStaleTestDatabases(admin: pg.Client): Promise<void> {
  const rows = await admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE $1", [
    `${TEST_DB_PREFIX}%`,
  ]);
  for (const { datname } of rows.rows) {
    const pid = Number(datname.slice(TEST_DB_PREFIX.length).split("_")[0]);
    if (Number.isInteger(pid) && !isAlive(pid)) {
      await admin.query(`DROP DATABASE IF EXISTS ${quote(datname)} WITH (FORCE)`).catch(() => {});
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
