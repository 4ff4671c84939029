import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
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

type Stream = "stdout" | "stderr";
type LogEntry = Record<string, unknown>;

interface Line {
  readonly stream: Stream;
  readonly text: string;
  /** Parsed on first use: the JSON object the line holds, or null. */
  json?: LogEntry | null;
}

interface Waiter {
  readonly test: (line: Line) => boolean;
  readonly resolve: (line: Line) => void;
}

/** tsx's loader, resolved from here so that any working directory can run TypeScript (tsx is a development dependency). */
const tsxLoader = () => pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

/** Every process started and not yet exited: none may outlive the run that started it. */
const running = new Set<NodeProcess>();
process.once("exit", () => {
  for (const p of running) p.child.kill("SIGKILL");
});

function parseLine(line: Line): LogEntry | null {
  if (line.json === undefined) {
    line.json = null;
    if (line.text.startsWith("{")) {
      try {
        const value: unknown = JSON.parse(line.text);
        if (value !== null && typeof value === "object" && !Array.isArray(value)) line.json = value as LogEntry;
      } catch {}
    }
  }
  return line.json;
}

export class NodeProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string | undefined;
  /** Resolves once the process has exited and its output is all read. */
  readonly exited: Promise<Exit>;
  readonly #keepLines: number;
  readonly #lines: Line[] = [];
  readonly #waiters = new Set<Waiter>();
  readonly #file: WriteStream | undefined;

  constructor(options: StartNodeOptions) {
    this.name = options.name;
    this.logFile = options.logFile;
    this.#keepLines = options.keepLines ?? Number.POSITIVE_INFINITY;
    const typescript = options.entry.endsWith(".ts") ? ["--conditions=source", "--import", tsxLoader()] : [];
    const base = options.inheritEnv ? process.env : { PATH: process.env.PATH ?? "" };
    this.child = spawn(
      process.execPath,
      [...typescript, ...(options.nodeArgs ?? []), options.entry, ...(options.args ?? [])],
      {
        cwd: options.cwd ?? process.cwd(),
        env: { ...base, ...options.env },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    if (options.logFile) this.#file = createWriteStream(options.logFile, { flags: "w" });
    running.add(this);
    this.#capture("stdout", this.child.stdout);
    this.#capture("stderr", this.child.stderr);
    this.exited = new Promise((resolve) => {
      // "close" comes after "exit" and after the last output: what a test reads is complete.
      this.child.once("close", (code, signal) => {
        running.delete(this);
        const exit = { code, signal, at: Date.now() };
        if (this.#file) this.#file.end(`[${this.name} exited: code ${code} signal ${signal}]\n`, () => resolve(exit));
        else resolve(exit);
      });
    });
  }

  #capture(stream: Stream, readable: NodeJS.ReadableStream | null): void {
    if (!readable) return;
    if (this.#keepLines === 0) {
      readable.on("data", (chunk: Buffer) => this.#file?.write(chunk));
      return;
    }
    let buffered = "";
    readable.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const text of lines) this.#line({ stream, text });
    });
    readable.on("end", () => {
      if (buffered !== "") this.#line({ stream, text: buffered });
    });
  }

  #line(line: Line): void {
    this.#file?.write(`${line.text}\n`);
    this.#lines.push(line);
    if (this.#lines.length > this.#keepLines) this.#lines.splice(0, this.#lines.length - this.#keepLines);
    for (const waiter of this.#waiters) {
      if (waiter.test(line)) {
        this.#waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get isRunning(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The kept output, one string: both streams interleaved as they came, or one of them. */
  output(stream?: Stream): string {
    return this.#kept()
      .filter((l) => stream === undefined || l.stream === stream)
      .map((l) => l.text)
      .join("\n");
  }

  /** The last `lines` lines of output, for an error message. */
  tail(lines = 30): string {
    if (this.#keepLines === 0) return `(output not kept${this.logFile ? `; see ${this.logFile}` : ""})`;
    return this.#kept()
      .slice(-lines)
      .map((l) => l.text)
      .join("\n");
  }

  /** The kept output lines that are JSON objects (the services' pino log lines), parsed. */
  logs(): LogEntry[] {
    return this.#kept()
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
    return this.#waitForLine(
      (line) => {
        const entry = parseLine(line);
        return entry !== null && test(entry);
      },
      what,
      options,
    ).then((line) => parseLine(line) as LogEntry);
  }

  /** Like `waitForLog`, on the raw output of either stream: a line that contains `pattern` or matches it. */
  async waitForOutput(
    pattern: string | RegExp,
    options: { timeoutMs?: number; fromNow?: boolean } = {},
  ): Promise<string> {
    const test = (line: Line) => (typeof pattern === "string" ? line.text.includes(pattern) : pattern.test(line.text));
    return (await this.#waitForLine(test, `output ${String(pattern)}`, options)).text;
  }

  #waitForLine(
    test: (line: Line) => boolean,
    what: string,
    { timeoutMs = 30_000, fromNow = false }: { timeoutMs?: number; fromNow?: boolean },
  ): Promise<Line> {
    if (this.#keepLines === 0) throw new Error(`${this.name}: started with keepLines 0, its output is not read`);
    const seen = fromNow ? undefined : this.#lines.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        test,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      const fail = (why: string) => {
        if (!this.#waiters.delete(waiter)) return;
        clearTimeout(timer);
        reject(new Error(`${this.name}: ${why} before ${what}; its last output:\n${this.tail()}`));
      };
      const timer = setTimeout(() => fail(`${timeoutMs} ms passed`), timeoutMs);
      this.#waiters.add(waiter);
      this.exited.then((exit) => fail(`exited (${exit.signal ?? exit.code})`));
    });
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

  #kept(): Line[] {
    if (this.#keepLines === 0) throw new Error(`${this.name}: started with keepLines 0, its output is not kept`);
    return this.#lines;
  }
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
