export * from "./template.js";
export * from "./test-database.js";
export * from "./vitest.js";
