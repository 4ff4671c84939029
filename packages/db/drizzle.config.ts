import { defineConfig } from "drizzle-kit";

// Migrations are generated from the `public` tables and applied with search_path set to
// PG_SCHEMA, so the SQL must stay unqualified (no foreign keys: drizzle-kit qualifies those).
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/schema.ts",
  out: "./migrations",
});
