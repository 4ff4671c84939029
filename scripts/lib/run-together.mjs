// Runs a few long-lived processes side by side, for `pnpm start` and `pnpm dev`: Ctrl-C or SIGTERM
// stops them all; if one exits on its own, the others are stopped too and its exit code is passed on.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** The repository root: every command runs from it. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/**
 * @param {{ name: string, command: string, args: string[], formatLine?: (line: string) => string }[]} processes
 *   `formatLine` rewrites each line of the process's standard output (standard error is passed as is);
 *   without it the output is passed through untouched.
 */
export function runTogether(processes) {
  const children = processes.map(({ name, command, args, formatLine }) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: process.env,
      // A process group of its own: Ctrl-C reaches only this script, which passes the signal on
      // once. Signalled twice (by the terminal and again from here), a service would stop at the
      // first and die at the second, and tsx watch would SIGKILL it.
      detached: true,
      stdio: ["ignore", formatLine ? "pipe" : "inherit", "inherit"],
    });
    if (formatLine && child.stdout) {
      createInterface({ input: child.stdout, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (line) =>
        process.stdout.write(formatLine(line)),
      );
    }
    return { name, child };
  });

  let stopping = false;
  let exitCode = 0;
  const stopAll = (signal) => {
    if (stopping) return;
    stopping = true;
    for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => stopAll(signal));
  // Not in this script's process group, they would outlive it if it ended some other way.
  process.on("exit", () => {
    for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  });

  let running = children.length;
  for (const { name, child } of children) {
    child.on("exit", (code, signal) => {
      if (!stopping) {
        process.stderr.write(`${name} exited (${signal ?? code}); stopping the others\n`);
        exitCode = code ?? 1;
        stopAll("SIGTERM");
      }
      running -= 1;
      if (running === 0) process.exit(exitCode);
    });
  }
}
