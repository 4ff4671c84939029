#!/usr/bin/env node
// `pnpm dev`: the API and one dispatcher from their TypeScript sources (and the workspace packages'
// sources, through the "source" export condition), each restarted by `tsx watch` when a file it
// imports changes, with their JSON log lines made readable by pino-pretty. Nothing to build first.
// The services themselves still write JSON lines, as in production: only this script prettifies.
// Same environment as `pnpm start` (with nothing set: local PostgreSQL and RabbitMQ).
import { createRequire } from "node:module";
import { prettyFactory } from "pino-pretty";
import { runTogether } from "./lib/run-together.mjs";

const pretty = prettyFactory({
  colorize: process.stdout.isTTY ?? false,
  translateTime: "SYS:HH:MM:ss.l",
  // Every line carries the service's name; put it before the message instead of among the fields.
  messageFormat: "[{service}] {msg}",
  ignore: "pid,hostname,service",
  // Two services share one terminal: one line per entry.
  singleLine: true,
});

const tsx = createRequire(import.meta.url).resolve("tsx/cli");
const watch = (entry) => [tsx, "watch", "--clear-screen=false", "--conditions=source", entry];

runTogether([
  { name: "api", command: process.execPath, args: watch("services/api/src/main.ts"), formatLine: pretty },
  { name: "dispatcher", command: process.execPath, args: watch("services/dispatcher/src/main.ts"), formatLine: pretty },
]);
