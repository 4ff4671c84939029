import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { generateDrizzleJson, generateMigration } from "drizzle-kit/api";
import { eq } from "drizzle-orm";
import { getTableConfig } from "drizzle-orm/pg-core";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { appliedMigrations, MIGRATIONS_FOLDER, migrate } from "../src/migrate.js";
import { createDb, createPool } from "../src/pool.js";
import * as schema from "../src/schema.js";
import { loadMasterSecret } from "../src/secret.js";
import { createSql } from "../src/sql/index.js";
import { adminClient } from "../src/testing/template.js";
import { basePgConfig } from "../src/testing/vitest.js";

const journal = JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, "meta/_journal.json"), "utf8")) as {
  entries: { idx: number; tag: string }[];
};

/** Databases this file creates from nothing (not from the template): the migrator must make them. */
const created: string[] = [];
function freshDatabaseName(label: string): string {
  const name = `otp_t_${process.pid}_${label}_${Date.now().toString(36)}`;
  created.push(name);
  return name;
}

afterAll(async () => {
  const admin = await adminClient(basePgConfig());
  for (const name of created) await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.end();
});

async function withClient<T>(database: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const base = basePgConfig();
  const client = new pg.Client({
    host: base.realHost,
    port: base.port,
    user: base.user,
    password: base.password,
    database,
  });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe("the committed migrations", () => {
  it("match the drizzle schema (nothing left to generate)", async () => {
    const lastIdx = String(journal.entries.at(-1)?.idx).padStart(4, "0");
    const last = JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, "meta", `${lastIdx}_snapshot.json`), "utf8"));
    const current = generateDrizzleJson({ ...schema });
    expect(await generateMigration(last, current)).toEqual([]);
  });
});

describe("migrate()", () => {
  it("creates a missing database; run twice at once, it applies each migration exactly once", async () => {
    const config = { ...basePgConfig(), database: freshDatabaseName("twice") };
    const logs: string[] = [];
    await Promise.all([migrate(config, { log: (m) => logs.push(m) }), migrate(config, { log: (m) => logs.push(m) })]);

    await withClient(config.database, async (client) => {
      expect(await appliedMigrations(client, "public")).toBe(journal.entries.length);
      const tables = await client.query<{ tablename: string }>(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE '\\_\\_%' ORDER BY 1",
      );
      expect(tables.rows.map((r) => r.tablename)).toEqual([
        "app_secret",
        "check_budget",
        "expiry_sweep",
        "limit_rule",
        "lookup_miss",
        "otp",
        "otp_policy",
        "outbox",
        "policy",
        "policy_block",
        "test_target",
        "webhook",
      ]);
    });
    expect(logs.filter((m) => m.startsWith("created database"))).toHaveLength(1);

    // A third run, later, finds nothing to do and changes nothing.
    await migrate(config);
    await withClient(config.database, async (client) => {
      expect(await appliedMigrations(client, "public")).toBe(journal.entries.length);
    });
  });

  it("honours PG_SCHEMA: tables, migration history and queries all live in that schema", async () => {
    const config = { ...basePgConfig(), database: freshDatabaseName("schema"), schema: "tenant_a" };
    await migrate(config);

    await withClient(config.database, async (client) => {
      const rows = await client.query<{ schemaname: string; tablename: string }>(
        "SELECT schemaname, tablename FROM pg_tables WHERE tablename IN ('otp', 'outbox', 'limit_rule') ORDER BY 2",
      );
      expect(rows.rows).toEqual([
        { schemaname: "tenant_a", tablename: "limit_rule" },
        { schemaname: "tenant_a", tablename: "otp" },
        { schemaname: "tenant_a", tablename: "outbox" },
      ]);
      expect(await appliedMigrations(client, "tenant_a")).toBe(journal.entries.length);
    });

    // The runtime pool does not rely on search_path: every name is schema-qualified.
    const pool = createPool(config, { applicationName: "test", onError: () => {} });
    try {
      const { db, tables } = createDb(pool, "tenant_a");
      await db.insert(tables.limitRule).values({ channel: "sms", measure: "ip", position: 0, minutes: 10, rate: 3 });
      const read = await db.select().from(tables.limitRule).where(eq(tables.limitRule.channel, "sms"));
      expect(read).toEqual([{ channel: "sms", measure: "ip", position: 0, minutes: 10, rate: 3 }]);

      // The functions too: called by their qualified names from a connection whose search_path is
      // the default, they read and write the tables of their own schema.
      const sql = createSql(tables);
      const now = new Date();
      const issued = await pool.query(
        sql.otp.issue({
          id: randomUUID(),
          channel: "call",
          target: "77010000001",
          ip: null,
          passwordDigest: Buffer.from("digest"),
          passwordCipher: Buffer.from("cipher"),
          generated: true,
          createdAt: now,
          expireAt: new Date(now.getTime() + 60_000),
          eventId: randomUUID(),
          event: "{}",
          guarded: true,
          unique: true,
          supersede: true,
          maxFailures: 5,
          metadata: '{"order": "1"}',
          country: "KZ",
        }),
      );
      expect(issued.rows).toEqual([{ result: "inserted" }]);
      const checked = await pool.query(
        sql.otp.check({
          channel: "call",
          target: "77010000001",
          ip: "203.0.113.1",
          now,
          nonce: Buffer.alloc(16),
          blinded: Buffer.alloc(32),
          maxFailures: 5,
          singleUse: true,
          throttleAfter: 5,
          only: null,
        }),
      );
      expect(checked.rows).toEqual([
        { outcome: "mismatch", retry_after_ms: null, attempts_left: null, verified_seconds: null },
      ]);
      const counted = await pool.query('SELECT ip, failures FROM "tenant_a".check_budget ORDER BY ip');
      expect(counted.rows).toEqual([
        { ip: "", failures: 1 },
        { ip: "203.0.113.1", failures: 1 },
      ]);
    } finally {
      await pool.end();
    }
  });

  it("leaves tables whose columns and indexes are exactly those of the drizzle schema", async () => {
    const config = { ...basePgConfig(), database: freshDatabaseName("shape") };
    await migrate(config);
    const tables = [
      schema.otp,
      schema.limitRule,
      schema.outbox,
      schema.appSecret,
      schema.checkBudget,
      schema.lookupMiss,
    ].map(getTableConfig);
    await withClient(config.database, async (client) => {
      for (const table of tables) {
        const columns = await client.query<{ column_name: string; data_type: string; is_nullable: string }>(
          `SELECT column_name, data_type, is_nullable FROM information_schema.columns
           WHERE table_schema = 'public' AND table_name = $1 ORDER BY column_name`,
          [table.name],
        );
        const expected = table.columns
          .map((c) => ({ column_name: c.name, data_type: c.getSQLType(), is_nullable: c.notNull ? "NO" : "YES" }))
          .sort((a, b) => a.column_name.localeCompare(b.column_name));
        expect(columns.rows.map((r) => ({ ...r, data_type: SQL_TYPE_NAMES[r.data_type] ?? r.data_type }))).toEqual(
          expected,
        );
        const indexes = await client.query<{ indexname: string }>(
          "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename = $1 AND indexname NOT LIKE '%_pkey'",
          [table.name],
        );
        expect(indexes.rows.map((r) => r.indexname).sort()).toEqual(
          table.indexes.map((i) => i.config.name ?? "").sort(),
        );
      }
    });
  });
});

/** information_schema's spelling of the types drizzle names differently. */
const SQL_TYPE_NAMES: Record<string, string> = {
  "timestamp with time zone": "timestamp with time zone",
  "character varying": "varchar",
};

describe("loadMasterSecret()", () => {
  it("prefers OTP_SECRET, else generates one secret that every caller shares", async () => {
    const config = { ...basePgConfig(), database: freshDatabaseName("secret") };
    await migrate(config);
    const pool = createPool(config, { applicationName: "test", onError: () => {} });
    try {
      const db = createDb(pool, "public");
      expect(await loadMasterSecret(db, "configured-secret-value")).toEqual({
        value: "configured-secret-value",
        stored: false,
      });
      const all = await Promise.all(Array.from({ length: 5 }, () => loadMasterSecret(db, undefined)));
      expect(new Set(all.map((s) => s.value)).size).toBe(1);
      expect(all[0]?.stored).toBe(true);
      expect(all[0]?.value.length).toBeGreaterThanOrEqual(32);
    } finally {
      await pool.end();
    }
  });
});
