export * from "./free-port.js";
export { sleep } from "./http-helpers.js";
export * from "./metrics.js";
export * from "./node-process.js";
export * from "./rabbitmq-cluster.js";
export * from "./rabbitmq-restart.js";
export * from "./recording-provider.js";
export * from "./service-env.js";
export * from "./until.js";
