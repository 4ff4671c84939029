export { freePort, sleep } from "@otp/testkit";

import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sleep } from "@otp/testkit";

/** The repository root: the services run from their builds under it. */
export const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
/** Every child's output, one file per process, kept after the run for diagnostics (git-ignored). */
export const LOG_DIR = join(ROOT, "test/faults/logs");

export const ENTRIES = {
  api: "services/api/dist/main.js",
  dispatcher: "services/dispatcher/dist/main.js",
  provider: "packages/testkit/dist/recording-provider-cli.js",
} as const;

const TAIL_LINES = 400;

/** Every child started by this run, so that nothing is left running whatever happens. */
const running = new Set<ServiceProcess>();
process.once("exit", () => {
  for (const p of running) p.child.kill("SIGKILL");
});

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly at: number;
}

/**
 * One service as a separate node process (the built JS, as `pnpm start:*` runs it). Its output is
 * written to a file and the last lines are kept in memory; JSON log lines are parsed so a test can
 * wait for a message.
 */
export class ServiceProcess {
  readonly child: ChildProcess;
  readonly name: string;
  readonly logFile: string;
  readonly exited: Promise<Exit>;
  readonly #tail: string[] = [];
  readonly #file: WriteStream;
  readonly #waiters = new Set<{ test: (line: Record<string, unknown>) => boolean; resolve: () => void }>();

  constructor(name: string, entry: string, args: string[], env: Record<string, string>) {
    this.name = name;
    mkdirSync(LOG_DIR, { recursive: true });
    this.logFile = join(LOG_DIR, `${name}.log`);
    this.#file = createWriteStream(this.logFile, { flags: "w" });
    this.child = spawn(process.execPath, [entry, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    running.add(this);
    this.exited = new Promise((resolve) =>
      this.child.once("exit", (code, signal) => {
        running.delete(this);
        this.#line(`[${name} exited: code ${code} signal ${signal}]`);
        this.#file.end();
        resolve({ code, signal, at: Date.now() });
      }),
    );
    this.#pipe(this.child.stdout);
    this.#pipe(this.child.stderr);
  }

  #pipe(stream: NodeJS.ReadableStream | null): void {
    let buffered = "";
    stream?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) this.#line(line);
    });
  }

  #line(line: string): void {
    this.#file.write(`${line}\n`);
    this.#tail.push(line);
    if (this.#tail.length > TAIL_LINES) this.#tail.splice(0, this.#tail.length - TAIL_LINES);
    if (this.#waiters.size === 0 || !line.startsWith("{")) return;
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line);
    } catch {
      return;
    }
    for (const waiter of this.#waiters) {
      if (waiter.test(parsed)) {
        this.#waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get isRunning(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines the process wrote (stdout and stderr interleaved). */
  tail(lines = 60): string {
    return this.#tail.slice(-lines).join("\n");
  }

  /** Resolves on the first JSON log line (from now on) that passes `test`; rejects if the process exits first. */
  waitForLog(test: (line: Record<string, unknown>) => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiter = {
        test,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`${this.name}: no "${what}" within ${timeoutMs} ms\n${this.tail(30)}`));
      }, timeoutMs);
      this.#waiters.add(waiter);
      this.exited.then((exit) => {
        if (!this.#waiters.delete(waiter)) return;
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${exit.signal ?? exit.code}) before "${what}"\n${this.tail(30)}`));
      });
    });
  }

  signal(signal: NodeJS.Signals): void {
    if (this.isRunning) this.child.kill(signal);
  }

  /** SIGKILL if still running, and wait for the exit. */
  async kill(): Promise<Exit> {
    this.signal("SIGKILL");
    return this.exited;
  }
}

/** Kills every child still running (after a failure): none may outlive the run. */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.kill()));
}

/** Polls `probe` until it returns true; false when `timeoutMs` passes first. */
export async function until(
  probe: () => Promise<boolean> | boolean,
  timeoutMs: number,
  everyMs = 100,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await probe()) return true;
    } catch {}
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
}
