#!/usr/bin/env node
// `pnpm start`: the API and one dispatcher side by side, from their builds, as in production (JSON
// log lines). Both read the same environment (with nothing set: local PostgreSQL and RabbitMQ).
// Ctrl-C or SIGTERM stops both; if either exits, the other is stopped too and the exit code is passed on.
import { runTogether } from "./lib/run-together.mjs";

runTogether([
  { name: "api", command: process.execPath, args: ["services/api/dist/main.js"] },
  { name: "dispatcher", command: process.execPath, args: ["services/dispatcher/dist/main.js"] },
]);
