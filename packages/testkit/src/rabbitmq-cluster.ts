import { execFile } from "node:child_process";
import { cpSync, existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

/**
 * A throwaway RabbitMQ cluster on this machine, driven through scripts/rabbitmq-cluster.sh (which
 * also works by hand: docs/development.md). Every node is a `rabbitmq-server` of the local Debian
 * package run as the `rabbitmq` user, on ports of its own, with its files under one folder; the
 * machine's own node (5672) is never touched. Needs root or the rabbitmq user.
 */

const exec = promisify(execFile);
const SCRIPT = fileURLToPath(new URL("../../../scripts/rabbitmq-cluster.sh", import.meta.url));

export interface RabbitMqClusterOptions {
  /** The folder of the whole cluster (RMQ_CLUSTER_DIR); default the script's. */
  readonly dir?: string;
  /** The number of nodes (RMQ_CLUSTER_SIZE), default 3. */
  readonly size?: number;
  /** The first node's AMQP port (RMQ_CLUSTER_PORT), default 5701; node i listens on port + i - 1. */
  readonly port?: number;
}

/** A quorum queue as the cluster reports it. */
export interface QuorumQueueInfo {
  readonly name: string;
  readonly type: string;
  /** The node name of its leader (`otp-c2@localhost`). */
  readonly leader: string;
  readonly members: readonly string[];
  /** The members running right now. */
  readonly online: readonly string[];
}

export class RabbitMqCluster {
  readonly size: number;
  readonly port: number;
  readonly #env: Record<string, string>;

  constructor(options: RabbitMqClusterOptions = {}) {
    this.size = options.size ?? 3;
    this.port = options.port ?? 5701;
    this.#env = {
      ...(process.env as Record<string, string>),
      RMQ_CLUSTER_SIZE: String(this.size),
      RMQ_CLUSTER_PORT: String(this.port),
      ...(options.dir ? { RMQ_CLUSTER_DIR: options.dir } : {}),
    };
  }

  /** Whether this machine can run it: the rabbitmq-server package, and root or the rabbitmq user. */
  static unavailableBecause(): string | undefined {
    if (!existsSync("/usr/lib/rabbitmq/bin/rabbitmq-server")) return "the rabbitmq-server package is not installed";
    const uid = process.getuid?.();
    if (uid !== 0 && process.env.USER !== "rabbitmq") return "it needs root (or the rabbitmq user)";
    return undefined;
  }

  /** Node i (1…size)'s name, `otp-c<i>@localhost`. */
  nodeName(i: number): string {
    return `otp-c${i}@localhost`;
  }

  /** Node i's AMQP URL, guest/guest on 127.0.0.1. */
  url(i: number): string {
    return `amqp://guest:guest@127.0.0.1:${this.port + i - 1}`;
  }

  /** Every node's URL, in order: what RABBITMQ_URL is set to. */
  get urls(): string[] {
    return Array.from({ length: this.size }, (_, k) => this.url(k + 1));
  }

  /** The node (1…size) an address (`amqp://guest@127.0.0.1:5702`) or node name points at; undefined if none. */
  nodeOf(addressOrName: string): number | undefined {
    const byName = /^otp-c(\d+)@/.exec(addressOrName);
    if (byName) return Number(byName[1]);
    try {
      const i = Number(new URL(addressOrName).port) - this.port + 1;
      return i >= 1 && i <= this.size ? i : undefined;
    } catch {
      return undefined;
    }
  }

  async #run(args: string[], timeoutMs: number): Promise<string> {
    try {
      const { stdout } = await exec("bash", [SCRIPT, ...args], {
        env: this.#env,
        timeout: timeoutMs,
        maxBuffer: 16 * 1024 * 1024,
      });
      return stdout;
    } catch (error) {
      const e = error as { stderr?: string; message: string };
      throw new Error(`rabbitmq-cluster.sh ${args.join(" ")} failed: ${e.message}\n${e.stderr ?? ""}`, {
        cause: error,
      });
    }
  }

  /** Starts every node not running and joins them (idempotent). */
  async start(): Promise<void> {
    await this.#run(["start"], 300_000);
  }

  /** Stops every node and removes the cluster's folder (idempotent). */
  async stop(): Promise<void> {
    await this.#run(["stop"], 120_000);
  }

  /** Whether every node runs. */
  async isRunning(): Promise<boolean> {
    return this.#run(["status"], 60_000).then(
      () => true,
      () => false,
    );
  }

  /** SIGKILLs node i; resolves, once its process is gone and its port closed, with when (epoch ms) the signal was sent. */
  async kill(i: number): Promise<number> {
    const at = Number((await this.#run(["kill", String(i)], 30_000)).trim());
    if (!Number.isFinite(at)) throw new Error(`rabbitmq-cluster.sh kill ${i} did not say when it killed`);
    return at;
  }

  /** Starts node i again (stopping it first if it runs); resolves once it has booted. */
  async restart(i: number): Promise<void> {
    await this.#run(["restart", String(i)], 180_000);
  }

  /** Copies every node's log folder to `dest`/c<i> (for a test's diagnostics, before stop() removes them). */
  async copyLogs(dest: string): Promise<void> {
    const dir = (await this.#run(["dir"], 10_000)).trim();
    for (let i = 1; i <= this.size; i++) {
      const logs = join(dir, `c${i}`, "log");
      if (existsSync(logs)) cpSync(logs, join(dest, `c${i}`), { recursive: true });
    }
  }

  /** Every queue with its leader, members and online members. */
  async queues(): Promise<QuorumQueueInfo[]> {
    return JSON.parse(await this.#run(["leaders"], 60_000)) as QuorumQueueInfo[];
  }

  /** Makes node i the leader of quorum queue `queue` (nothing to do if it is already). */
  async lead(queue: string, i: number): Promise<void> {
    const current = (await this.queues()).find((q) => q.name === queue);
    if (current?.leader === this.nodeName(i)) return;
    const out = (await this.#run(["lead", queue, String(i)], 60_000)).trim();
    if (!out.startsWith("{migrated")) throw new Error(`could not move the leader of ${queue} to node ${i}: ${out}`);
  }
}
