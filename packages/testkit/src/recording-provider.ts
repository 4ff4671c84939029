import { EventEmitter } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { handleControl } from "./control.js";
import { type ActiveRule, activeRule, answerByRule, type FaultRule, pickRule } from "./fault-rules.js";
import { HeldRequests } from "./held-requests.js";
import { readBody, sendJson, sleep } from "./http-helpers.js";
import { type RecordedRequest, recordOf } from "./recorded-request.js";

/**
 * A stand-in for the HTTP services the dispatcher calls (Queue, SMS, Email, http-telegram-notify):
 * it records every request and answers `{"status": true}`, unless told to misbehave. Tests drive it
 * in-process; a separate process (the CLI beside this file) is driven over HTTP:
 *
 *   GET    /__requests[?path=/task]   the recorded requests, oldest first
 *   DELETE /__requests                forgets them
 *   POST   /__control/rules           adds one fault rule or an array of them (see FaultRule)
 *   DELETE /__control/rules           removes every rule; keeps the records, delay and hold
 *   POST   /__control/delay {"ms":n}  delays every answer by n ms
 *   POST   /__control/hold            holds every new request open until /__control/release
 *   POST   /__control/release         answers the held requests (as usual) and stops holding
 *   POST   /__control/reset           no rules, no delay, nothing held, nothing recorded
 *   GET    /__control                 the current rules, delay and counts
 *
 * Control requests are not recorded. No dependencies, so a container can run it with plain node.
 */

export type { FaultRule } from "./fault-rules.js";
export type { RecordedRequest } from "./recorded-request.js";

export interface RecordingProviderOptions {
  /** Older requests are forgotten beyond this many (a benchmark sends a lot). Default 100,000. */
  readonly maxRecords?: number;
  /** Largest accepted body; larger ones get 413. Default 1 MiB. */
  readonly maxBodyBytes?: number;
}

type Events = { request: [RecordedRequest] };

export class RecordingProvider extends EventEmitter<Events> {
  readonly #maxRecords: number;
  readonly #maxBodyBytes: number;
  readonly #records: RecordedRequest[] = [];
  readonly #rules: ActiveRule[] = [];
  readonly #sockets = new Set<Socket>();
  readonly #held = new HeldRequests();
  #seq = 0;
  #delayMs = 0;
  #holding = false;
  #server: Server | undefined;
  #port = 0;

  constructor(options: RecordingProviderOptions = {}) {
    super();
    this.#maxRecords = options.maxRecords ?? 100_000;
    this.#maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  }

  /** Listens (port 0: an ephemeral one); resolves with the port. */
  async start(port = 0, host = "127.0.0.1"): Promise<number> {
    const server = createServer((req, res) => {
      this.#handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    server.keepAliveTimeout = 60_000;
    server.on("connection", (socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("recording provider has no TCP address");
    this.#server = server;
    this.#port = address.port;
    return this.#port;
  }

  get port(): number {
    return this.#port;
  }

  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#held.releaseAll();
    for (const socket of this.#sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The recorded requests, oldest first; `path` keeps those whose path starts with it. */
  requests(filter: { path?: string } = {}): RecordedRequest[] {
    const { path } = filter;
    return path === undefined ? [...this.#records] : this.#records.filter((r) => r.path.startsWith(path));
  }

  clearRequests(): void {
    this.#records.length = 0;
  }

  /** Adds a rule; rules are tried in the order added, the first that applies decides. */
  addRule(rule: FaultRule): this {
    this.#rules.push(activeRule(rule));
    return this;
  }

  /** Removes every rule (a fault ends) without forgetting what was recorded. */
  clearRules(): this {
    this.#rules.length = 0;
    return this;
  }

  /** The next `times` requests (under `path`, if given) answer `status`. */
  failNext(times: number, status = 500, extra: Omit<FaultRule, "times" | "status"> = {}): this {
    return this.addRule({ ...extra, times, status });
  }

  /** Each request (under `path`, if given) answers `status` with probability `rate`. */
  failRate(rate: number, status = 500, extra: Omit<FaultRule, "rate" | "status"> = {}): this {
    return this.addRule({ ...extra, rate, status });
  }

  /** Every answer waits this long (rules may add their own delay on top). */
  setDelay(ms: number): this {
    this.#delayMs = Math.max(0, ms);
    return this;
  }

  /** Holds every new request open, unanswered, until {@link release}. */
  hold(): this {
    this.#holding = true;
    return this;
  }

  /** Answers the held requests as usual and stops holding new ones. */
  release(): this {
    this.#holding = false;
    this.#held.releaseAll();
    return this;
  }

  /** The rules, delay and counts, for GET /__control. */
  snapshot(): { rules: FaultRule[]; delayMs: number; holding: boolean; held: number; recorded: number } {
    return {
      rules: this.#rules.map(({ remaining: _remaining, ...rule }) => rule),
      delayMs: this.#delayMs,
      holding: this.#holding,
      held: this.#held.size,
      recorded: this.#records.length,
    };
  }

  /** How many requests are being held open right now. */
  get heldCount(): number {
    return this.#held.size;
  }

  /** Back to a well-behaved, empty provider. */
  reset(): this {
    this.#rules.length = 0;
    this.#delayMs = 0;
    this.release();
    this.clearRequests();
    return this;
  }

  /** Resolves once at least `count` requests (under `path`) have been recorded. */
  async waitForRequests(
    count: number,
    options: { path?: string; timeoutMs?: number } = {},
  ): Promise<RecordedRequest[]> {
    const { path, timeoutMs = 10_000 } = options;
    const current = () => this.requests(path === undefined ? {} : { path });
    if (current().length >= count) return current();
    return new Promise((resolve, reject) => {
      const onRequest = () => {
        const now = current();
        if (now.length >= count) {
          cleanup();
          resolve(now);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`expected ${count} requests${path ? ` under ${path}` : ""}, got ${current().length}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off("request", onRequest);
      };
      this.on("request", onRequest);
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://provider");
    const body = await readBody(req, this.#maxBodyBytes);
    if (body === undefined) {
      sendJson(res, 413, { status: false, message: "body too large" });
      return;
    }
    if (url.pathname === "/__requests" || url.pathname.startsWith("/__control")) {
      handleControl(this, req.method ?? "GET", url, body, res);
      return;
    }
    const record = this.#record(recordOf(++this.#seq, req, url, body));
    const rule = pickRule(this.#rules, record.path);
    const delay = this.#delayMs + (rule?.delayMs ?? 0);
    if (delay > 0) await sleep(delay);
    if (this.#holding || rule?.action === "hang") {
      record.answer = "held";
      const released = await this.#held.wait(res);
      if (!released || res.destroyed) return;
      if (rule?.action === "hang") {
        // Released: answer as a well-behaved provider would.
        record.answer = 200;
        sendJson(res, 200, { status: true });
        return;
      }
    }
    answerByRule(req, res, rule, record);
  }

  /** Keeps `record` (forgetting the oldest beyond maxRecords) and tells the waiters. */
  #record(record: RecordedRequest): RecordedRequest {
    this.#records.push(record);
    if (this.#records.length > this.#maxRecords) this.#records.splice(0, this.#records.length - this.#maxRecords);
    this.emit("request", record);
    return record;
  }
}
