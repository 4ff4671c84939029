import { join } from "node:path";
import { type NodeProcess, type StartNodeOptions, startNode } from "@otp/testkit";
import type { Log } from "./log.js";
import { ROOT } from "./processes.js";

type Cleanup = () => Promise<unknown>;

/**
 * What a run started and must undo however it ends: the child processes (stopped first, side by
 * side), then the cleanups, one after the other in their order; a failing cleanup is logged and
 * the next one still runs.
 */
export class Resources {
  readonly #children: NodeProcess[] = [];
  readonly #cleanups: Cleanup[] = [];
  readonly #logDir: string;
  readonly #log: Log;

  constructor(logDir: string, log: Log) {
    this.#logDir = logDir;
    this.#log = log;
  }

  /**
   * A service as a process of its own, on top of this process's environment; its output goes to
   * `<logDir>/<name>.log` unread (as a container's logs would: the service pays for its logging, the
   * load generator in this process does not).
   */
  spawn(name: string, entry: string, options: Pick<StartNodeOptions, "args" | "env" | "nodeArgs">): NodeProcess {
    const child = startNode({
      name,
      entry,
      ...options,
      cwd: ROOT,
      inheritEnv: true,
      logFile: join(this.#logDir, `${name}.log`),
      keepLines: 0,
    });
    this.#children.push(child);
    return child;
  }

  /** Runs after the cleanups registered so far. */
  addCleanup(cleanup: Cleanup): void {
    this.#cleanups.push(cleanup);
  }

  /** Runs before the cleanups registered so far (a client closed before its database is dropped). */
  addCleanupFirst(cleanup: Cleanup): void {
    this.#cleanups.unshift(cleanup);
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.#children.map((c) => c.stop(5_000)));
    for (const fn of this.#cleanups) await fn().catch((error) => this.#log(`cleanup: ${String(error)}`));
  }
}
