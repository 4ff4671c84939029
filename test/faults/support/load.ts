import { Agent, request } from "node:http";

export type Channel = "sms" | "call" | "email" | "telegram";

/** One create request and what came of it. */
export interface Attempt {
  readonly seq: number;
  readonly channel: Channel;
  /** Unique per request: how the provider's records map back to it. */
  readonly target: string;
  /** The phase that was running when it was sent. */
  readonly phase: string;
  readonly startedAt: number;
  endedAt?: number;
  /** HTTP status, or undefined when there was no answer. */
  status?: number;
  contentType?: string;
  body?: string;
  /** `content.id` of an accepted create. */
  otpId?: string;
  /** No answer: the error code (ECONNREFUSED, ECONNRESET, timeout, ...). */
  error?: string;
}

export interface LoadOptions {
  readonly port: number;
  readonly ratePerSecond: number;
  /** Requests in flight at most; a tick finding this many waiting sends nothing (counted). */
  readonly maxInFlight: number;
  /** A request without an answer after this long is abandoned and counted as a timeout. */
  readonly timeoutMs: number;
  /** Seconds; long enough that nothing expires during the run. */
  readonly lifetime: number;
  /** Distinguishes the targets of this run from any other's. */
  readonly runTag: string;
}

/** Every 10th request is a call, an email or a telegram; the rest are SMS: every queue is exercised. */
function channelFor(seq: number): Channel {
  switch (seq % 10) {
    case 3:
      return "call";
    case 6:
      return "email";
    case 9:
      return "telegram";
    default:
      return "sms";
  }
}

/**
 * A steady, open-loop stream of OTP creations (`POST /{channel}`), each to a target of its own,
 * at a fixed rate whatever the answers, so that every fault meets traffic. Every request is kept
 * with its outcome and the phase it belongs to.
 */
export class LoadGenerator {
  readonly attempts: Attempt[] = [];
  readonly #o: LoadOptions;
  readonly #agent: Agent;
  readonly #inFlight = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #phase = "start";
  #seq = 0;
  skipped = 0;

  constructor(options: LoadOptions) {
    this.#o = options;
    // `timeout` is what makes Node's agent honour the server's `Keep-Alive: timeout=5` and drop an
    // idle socket a second before the API does: without it, a request sent on a socket the API is
    // closing at that moment fails with ECONNRESET, never reaching the API (seen on a loaded
    // machine, where timers fire late). No request waits that long: #post gives up after timeoutMs.
    this.#agent = new Agent({ keepAlive: true, maxSockets: options.maxInFlight, timeout: 60_000 });
  }

  set phase(name: string) {
    this.#phase = name;
  }

  get phase(): string {
    return this.#phase;
  }

  start(): void {
    const interval = 1000 / this.#o.ratePerSecond;
    let next = Date.now();
    const tick = () => {
      const now = Date.now();
      // Catch up after a late timer (a busy machine) so the rate holds on average.
      while (next <= now) {
        next += interval;
        if (this.#inFlight.size >= this.#o.maxInFlight) this.skipped++;
        else this.#send();
      }
      this.#timer = setTimeout(tick, Math.max(0, next - Date.now()));
    };
    tick();
  }

  /** Stops sending and waits for the answers still due. */
  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await Promise.allSettled([...this.#inFlight]);
    this.#agent.destroy();
  }

  /** Sends `n` creates at once, on top of the steady stream (e.g. to have requests in flight at a signal). */
  burst(n: number): void {
    for (let i = 0; i < n; i++) this.#send();
  }

  #send(): void {
    const seq = ++this.#seq;
    const channel = channelFor(seq);
    const n = String(seq).padStart(7, "0");
    const target =
      channel === "email"
        ? `f${this.#o.runTag}.${n}@example.com`
        : channel === "telegram"
          ? `9${this.#o.runTag}${n}`
          : // A phone must be a valid number (OTP_PHONE_CHECK=valid): Kazakh mobiles 7701 + 7 digits,
            // which leaves no room for the run tag; the run's own database keeps runs apart.
            `7701${n}`;
    const base = { password: String(100000 + (seq % 900000)), lifetime: this.#o.lifetime };
    const body =
      channel === "email"
        ? { ...base, email: target, subject: `code {password} #${seq}` }
        : channel === "telegram"
          ? { ...base, chat_id: Number(target), message: `code {password} #${seq}` }
          : channel === "call"
            ? { ...base, phone: target }
            : { ...base, phone: target, message: `code {password} #${seq}` };
    const attempt: Attempt = { seq, channel, target, phase: this.#phase, startedAt: Date.now() };
    this.attempts.push(attempt);
    const task = this.#post(`/${channel}`, JSON.stringify(body), attempt);
    this.#inFlight.add(task);
    task.finally(() => this.#inFlight.delete(task));
  }

  #post(path: string, payload: string, attempt: Attempt): Promise<void> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (fields: Partial<Attempt>) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        Object.assign(attempt, fields, { endedAt: Date.now() });
        resolve();
      };
      const req = request(
        {
          host: "127.0.0.1",
          port: this.#o.port,
          method: "POST",
          path,
          agent: this.#agent,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", (error: NodeJS.ErrnoException) => finish({ error: error.code ?? error.message }));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let otpId: string | undefined;
            if (res.statusCode === 200) {
              try {
                otpId = (JSON.parse(text) as { content?: { id?: string } }).content?.id;
              } catch {}
            }
            finish({
              status: res.statusCode,
              contentType: res.headers["content-type"],
              body: text.slice(0, 500),
              ...(otpId ? { otpId } : {}),
            });
          });
        },
      );
      const timer = setTimeout(() => {
        finish({ error: "timeout" });
        req.destroy();
      }, this.#o.timeoutMs);
      req.on("error", (error: NodeJS.ErrnoException) => finish({ error: error.code ?? error.message }));
      req.end(payload);
    });
  }
}
