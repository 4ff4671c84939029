import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { TEST_TIERS } from "./harness.js";

const DISPATCHER_DIR = fileURLToPath(new URL("../..", import.meta.url));
const ENTRY = fileURLToPath(new URL("./child-entry.ts", import.meta.url));

/** Runs a TypeScript file of this package as a node process, on the sources (no build needed). */
export function spawnTs(file: string, args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ["--conditions=source", "--import", "tsx", file, ...args], {
    cwd: DISPATCHER_DIR,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** A dispatcher in a process of its own, for SIGKILL and SIGTERM. */
export class ChildDispatcher {
  readonly process: ChildProcess;
  readonly logs: Record<string, unknown>[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(env: Record<string, string>) {
    this.process = spawnTs(ENTRY, [JSON.stringify({ retryTiersMs: TEST_TIERS })], { ...env, LOG_LEVEL: "info" });
    let buffered = "";
    this.process.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        try {
          this.logs.push(JSON.parse(line));
        } catch {
          this.stderr.push(line);
        }
      }
    });
    this.process.stderr?.on("data", (chunk: Buffer) => this.stderr.push(chunk.toString("utf8")));
    this.exited = new Promise((resolve) => this.process.once("exit", (code, signal) => resolve({ code, signal })));
  }

  /** Starts one and resolves once it consumes (its connection's setup has run). */
  static async start(env: Record<string, string>, timeoutMs = 20_000): Promise<ChildDispatcher> {
    const child = new ChildDispatcher(env);
    const deadline = Date.now() + timeoutMs;
    while (!child.logs.some((l) => l.msg === "connected to RabbitMQ")) {
      if (child.process.exitCode !== null || Date.now() > deadline) {
        child.process.kill("SIGKILL");
        throw new Error(`child dispatcher did not start:\n${child.stderr.join("")}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return child;
  }

  kill(signal: NodeJS.Signals): void {
    this.process.kill(signal);
  }

  logged(msg: string): Record<string, unknown>[] {
    return this.logs.filter((l) => l.msg === msg);
  }
}
