export * from "./migrate.js";
export * from "./pool.js";
export * from "./schema.js";
export * from "./secret.js";
export * from "./sql/index.js";
