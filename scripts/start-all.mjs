#!/usr/bin/env node
// `pnpm start`: the API and one dispatcher side by side, for local development. Both read the same
// environment (with nothing set: local PostgreSQL and RabbitMQ). Ctrl-C or SIGTERM stops both;
// if either exits, the other is stopped too and the exit code is passed on.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const services = {
  api: "services/api/dist/main.js",
  dispatcher: "services/dispatcher/dist/main.js",
};

const children = Object.entries(services).map(([name, entry]) => {
  const child = spawn(process.execPath, [entry], { cwd: root, stdio: "inherit", env: process.env });
  child.name = name;
  return child;
});

let stopping = false;
let exitCode = 0;
function stopAll(signal) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill(signal);
}

for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => stopAll(signal));

let running = children.length;
for (const child of children) {
  child.on("exit", (code, signal) => {
    if (!stopping) {
      process.stderr.write(`${child.name} exited (${signal ?? code}); stopping the others\n`);
      exitCode = code ?? 1;
      stopAll("SIGTERM");
    }
    running -= 1;
    if (running === 0) process.exit(exitCode);
  });
}
