export * from "./keyring.js";
export * from "./migrate.js";
export * from "./pool.js";
export * from "./retry.js";
export * from "./schema.js";
export * from "./secret.js";
export * from "./sql/index.js";
