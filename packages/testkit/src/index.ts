export * from "./free-port.js";
export { sleep } from "./http-helpers.js";
export * from "./recording-provider.js";
