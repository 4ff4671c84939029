export * from "./free-port.js";
export * from "./recording-provider.js";
