import type { Tables } from "../schema.js";
import { qualifiedName, statement } from "./statement.js";

/** The statements of the `app_secret` table: secrets generated once and shared by every replica. */
export function appSecretSql({ appSecret: table }: Tables) {
  const appSecret = qualifiedName(table);
  return {
    /** Stores a secret unless one of that name is there already: the first process to ask wins. */
    insertIfMissing: statement<{ name: string; value: string }>(
      ["name", "value"],
      (p) => `INSERT INTO ${appSecret} (name, value) VALUES (${p.name}, ${p.value}) ON CONFLICT (name) DO NOTHING`,
    ),
    /** Row: `value`. */
    select: statement<{ name: string }>(["name"], (p) => `SELECT value FROM ${appSecret} WHERE name = ${p.name}`),
  };
}

export type AppSecretSql = ReturnType<typeof appSecretSql>;
