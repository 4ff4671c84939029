export { freePort } from "@otp/testkit";

import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sleep } from "@otp/testkit";

/** The repository root: every service runs from its built `dist/`, as `pnpm start:*` runs it. */
export const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly pid: number;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts `node <entry> ...args` with `env` on top of this process's environment; its output goes
 * to `<logDir>/<name>.log` (a file, as a container's logs would: the service pays for its logging).
 */
export function startNode(
  name: string,
  entry: string,
  options: { args?: string[]; env?: Record<string, string>; logDir: string; nodeArgs?: string[] },
): Child {
  const log = createWriteStream(join(options.logDir, `${name}.log`), { flags: "a" });
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), join(ROOT, entry), ...(options.args ?? [])], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    name,
    process: child,
    pid: child.pid ?? 0,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls `url` until it answers 200 (or throws after `timeoutMs`, or when `child` dies). */
export async function waitForHttp(url: string, child: Child, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.process.exitCode !== null) throw new Error(`${child.name} exited with ${child.process.exitCode}`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${child.name} did not answer ${url} within ${timeoutMs} ms`);
    await sleep(100);
  }
}
