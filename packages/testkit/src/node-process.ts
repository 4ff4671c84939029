import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { type Line, type LogEntry, ProcessOutput, parseLine, type Stream } from "./process-output.js";
import { until } from "./until.js";

/**
 * One runner for every process a test, the fault suite or the benchmark starts (a service, the dlq
 * CLI, the recording provider): spawn with captured output, wait for a log line or an HTTP answer,
 * stop with SIGTERM and a deadline, read the exit.
 */

export interface StartNodeOptions {
  /** Names the process in errors and in `killAll`'s leftovers. */
  readonly name: string;
  /**
   * The script node runs, relative to `cwd` or absolute. A `.ts` file runs from source through tsx,
   * with the workspace packages resolved to their sources too (the "source" export condition).
   */
  readonly entry: string;
  readonly args?: readonly string[];
  /** Flags for node itself (`--cpu-prof`), before the entry. */
  readonly nodeArgs?: readonly string[];
  /** Default: this process's working directory. */
  readonly cwd?: string;
  /** The child's variables. Only these and PATH, unless `inheritEnv`. */
  readonly env?: Readonly<Record<string, string>>;
  /** Put `env` on top of this process's environment instead of an empty one. */
  readonly inheritEnv?: boolean;
  /** Also writes the output (stdout and stderr) to this file, replacing what it held. */
  readonly logFile?: string;
  /**
   * How many output lines to keep in memory (default: all). 0 keeps none and does not even split
   * the output into lines (a benchmark's services log a lot): then only `logFile` has it, and
   * `output()` and `waitForLog()` are not available.
   */
  readonly keepLines?: number;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Epoch ms. */
  readonly at: number;
}

/** tsx's loader, resolved from here so that any working directory can run TypeScript (tsx is a development dependency). */
const tsxLoader = () => pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

/** Every process started and not yet exited: none may outlive the run that started it. */
const running = new Set<NodeProcess>();
process.once("exit", () => {
  for (const p of running) p.child.kill("SIGKILL");
});

export class NodeProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string | undefined;
  /** Resolves once the process has exited and its output is all read. */
  readonly exited: Promise<Exit>;
  readonly #output: ProcessOutput;

  constructor(options: StartNodeOptions) {
    this.name = options.name;
    this.logFile = options.logFile;
    this.#output = new ProcessOutput(options.name, options.keepLines ?? Number.POSITIVE_INFINITY, options.logFile);
    this.child = spawnNode(options);
    running.add(this);
    this.#output.capture("stdout", this.child.stdout);
    this.#output.capture("stderr", this.child.stderr);
    this.exited = new Promise((resolve) => {
      // "close" comes after "exit" and after the last output: what a test reads is complete.
      this.child.once("close", (code, signal) => {
        running.delete(this);
        const exit = { code, signal, at: Date.now() };
        this.#output.end(`[${this.name} exited: code ${code} signal ${signal}]\n`, () => resolve(exit));
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get isRunning(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The kept output, one string: both streams interleaved as they came, or one of them. */
  output(stream?: Stream): string {
    return this.#output
      .kept()
      .filter((l) => stream === undefined || l.stream === stream)
      .map((l) => l.text)
      .join("\n");
  }

  /** The last `lines` lines of output, for an error message. */
  tail(lines = 30): string {
    if (!this.#output.keepsLines) return `(output not kept${this.logFile ? `; see ${this.logFile}` : ""})`;
    return this.#output
      .kept()
      .slice(-lines)
      .map((l) => l.text)
      .join("\n");
  }

  /** The kept output lines that are JSON objects (the services' pino log lines), parsed. */
  logs(): LogEntry[] {
    return this.#output
      .kept()
      .map(parseLine)
      .filter((entry) => entry !== null);
  }

  /** The log lines whose `msg` is `msg`. */
  logged(msg: string): LogEntry[] {
    return this.logs().filter((entry) => entry.msg === msg);
  }

  /**
   * Resolves with the first log line that matches (its `msg`, or a test on the parsed line): one
   * already written, or the next ones (`fromNow`: only the next ones). Rejects when the process
   * exits first or `timeoutMs` passes.
   */
  waitForLog(
    match: string | ((entry: LogEntry) => boolean),
    options: { timeoutMs?: number; fromNow?: boolean } = {},
  ): Promise<LogEntry> {
    const test = typeof match === "string" ? (e: LogEntry) => e.msg === match : match;
    const what = typeof match === "string" ? `the log line "${match}"` : "a matching log line";
    return this.#output
      .waitForLine(
        (line) => {
          const entry = parseLine(line);
          return entry !== null && test(entry);
        },
        what,
        options,
        this.exited,
        () => this.tail(),
      )
      .then((line) => parseLine(line) as LogEntry);
  }

  /** Like `waitForLog`, on the raw output of either stream: a line that contains `pattern` or matches it. */
  async waitForOutput(
    pattern: string | RegExp,
    options: { timeoutMs?: number; fromNow?: boolean } = {},
  ): Promise<string> {
    const test = (line: Line) => (typeof pattern === "string" ? line.text.includes(pattern) : pattern.test(line.text));
    const line = await this.#output.waitForLine(test, `output ${String(pattern)}`, options, this.exited, () =>
      this.tail(),
    );
    return line.text;
  }

  /** Resolves once `url` answers 200; rejects when the process exits first or `timeoutMs` passes. */
  async waitForHttp(url: string, { timeoutMs = 30_000 }: { timeoutMs?: number } = {}): Promise<void> {
    const answers = async () => {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
        await res.arrayBuffer();
        return res.ok;
      } catch {
        return false; // not listening yet
      }
    };
    // Its exit ends the wait at once (a throwing probe would only count as "not yet").
    const exited = new AbortController();
    this.exited.then((exit) => exited.abort(new Error(`${this.name} exited (${exit.signal ?? exit.code})`)));
    try {
      await until(answers, {
        timeoutMs,
        intervalMs: 100,
        what: `${this.name} to answer ${url}`,
        signal: exited.signal,
      });
    } catch (error) {
      throw new Error(`${(error as Error).message}; its last output:\n${this.tail()}`, { cause: error });
    }
  }

  /** Sends `signal` if the process still runs. */
  signal(signal: NodeJS.Signals): void {
    if (this.isRunning) this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL if it still runs after `graceMs`; the exit and how long it took. */
  async stop(graceMs = 10_000): Promise<Exit & { tookMs: number }> {
    const started = Date.now();
    this.signal("SIGTERM");
    const timer = setTimeout(() => this.signal("SIGKILL"), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return { ...exit, tookMs: Math.max(0, exit.at - started) };
  }

  /** SIGKILL, and the exit. */
  kill(): Promise<Exit> {
    this.signal("SIGKILL");
    return this.exited;
  }
}

/** `node <entry>`, TypeScript through tsx, with the options' working directory and environment. */
function spawnNode(options: StartNodeOptions): ChildProcess {
  const typescript = options.entry.endsWith(".ts") ? ["--conditions=source", "--import", tsxLoader()] : [];
  const base = options.inheritEnv ? process.env : { PATH: process.env.PATH ?? "" };
  return spawn(process.execPath, [...typescript, ...(options.nodeArgs ?? []), options.entry, ...(options.args ?? [])], {
    cwd: options.cwd ?? process.cwd(),
    env: { ...base, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Starts `node <entry>` (see StartNodeOptions). */
export function startNode(options: StartNodeOptions): NodeProcess {
  return new NodeProcess(options);
}

/** Runs `node <entry>` to its end (a CLI): its exit code and what it wrote on each stream. */
export async function runNode(
  options: StartNodeOptions & { timeoutMs?: number },
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const p = startNode(options);
  const timer = setTimeout(() => p.signal("SIGKILL"), options.timeoutMs ?? 60_000);
  const { code, signal } = await p.exited;
  clearTimeout(timer);
  return { code, signal, stdout: p.output("stdout"), stderr: p.output("stderr") };
}

/** Kills every process this module started that still runs (after a failure), and waits for them. */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.kill()));
}
