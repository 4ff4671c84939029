export * from "./recording-provider.js";
