export * from "./client.js";
export * from "./connection.js";
export * from "./errors.js";
export * from "./log.js";
export * from "./publisher.js";
export * from "./reopen.js";
export * from "./topology.js";
