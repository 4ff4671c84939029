export { amqpAddress } from "./amqp-url.js";
export * from "./config.js";
export * from "./env.js";
export * from "./presend-hook.js";
export * from "./webhook-delivery.js";
export * from "./webhooks.js";
