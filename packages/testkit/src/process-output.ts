import { createWriteStream, type WriteStream } from "node:fs";
import type { Exit } from "./node-process.js";

/**
 * A child process's output, for NodeProcess: split into lines (each stream on its own), copied to
 * the log file, the last `keepLines` kept in memory, and handed to whoever waits for a matching
 * line. With `keepLines` 0 the output is not even split: the raw chunks go to the file only.
 */

export type Stream = "stdout" | "stderr";
export type LogEntry = Record<string, unknown>;

export interface Line {
  readonly stream: Stream;
  readonly text: string;
  /** Parsed on first use: the JSON object the line holds, or null. */
  json?: LogEntry | null;
}

interface Waiter {
  readonly test: (line: Line) => boolean;
  readonly resolve: (line: Line) => void;
}

export interface WaitOptions {
  readonly timeoutMs?: number;
  /** Only lines written from now on; by default a line already written matches too. */
  readonly fromNow?: boolean;
}

export function parseLine(line: Line): LogEntry | null {
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

export class ProcessOutput {
  readonly #name: string;
  readonly #keepLines: number;
  readonly #lines: Line[] = [];
  readonly #waiters = new Set<Waiter>();
  readonly #file: WriteStream | undefined;

  /** `name` names the process in errors; `logFile` is replaced. */
  constructor(name: string, keepLines: number, logFile: string | undefined) {
    this.#name = name;
    this.#keepLines = keepLines;
    if (logFile) this.#file = createWriteStream(logFile, { flags: "w" });
  }

  get keepsLines(): boolean {
    return this.#keepLines !== 0;
  }

  capture(stream: Stream, readable: NodeJS.ReadableStream | null): void {
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

  /** Writes `last` to the log file and closes it; `done` runs once it is flushed (at once without a file). */
  end(last: string, done: () => void): void {
    if (this.#file) this.#file.end(last, done);
    else done();
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

  /** The kept lines, both streams interleaved as they came. */
  kept(): Line[] {
    if (this.#keepLines === 0) throw new Error(`${this.#name}: started with keepLines 0, its output is not kept`);
    return this.#lines;
  }

  /**
   * Resolves with the first line that passes `test` (see WaitOptions); rejects when `exited`
   * resolves first or `timeoutMs` passes, with `tail()` in the message.
   */
  waitForLine(
    test: (line: Line) => boolean,
    what: string,
    { timeoutMs = 30_000, fromNow = false }: WaitOptions,
    exited: Promise<Exit>,
    tail: () => string,
  ): Promise<Line> {
    if (this.#keepLines === 0) throw new Error(`${this.#name}: started with keepLines 0, its output is not read`);
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
        reject(new Error(`${this.#name}: ${why} before ${what}; its last output:\n${tail()}`));
      };
      const timer = setTimeout(() => fail(`${timeoutMs} ms passed`), timeoutMs);
      this.#waiters.add(waiter);
      exited.then((exit) => fail(`exited (${exit.signal ?? exit.code})`));
    });
  }
}
