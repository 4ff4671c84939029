import http from "node:http";
import https from "node:https";
import type { Redactor } from "./redact.js";
import type { AttemptResult } from "./types.js";

export interface HttpCall {
  readonly url: string;
  /** The exact body bytes (PHP-compatible JSON; a webhook's payload). */
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Sent as `Idempotency-Key` (provider calls); webhooks carry their id in their own headers. */
  readonly idempotencyKey?: string;
  readonly timeoutMs: number;
  /** The agent to connect with (webhooks: one that refuses private addresses); the shared ones by default. */
  readonly agent?: http.Agent;
}

export interface HttpAnswer {
  readonly status: number;
  readonly bodyStart: string;
  readonly retryAfter: string | null;
}

const SNIPPET_CHARS = 120;
/** The bytes of an answer's body kept (for its error text); redaction masks an echo this cuts short. */
export const BODY_KEPT = 512;

// Keep-alive connections to the Queue / providers: a TCP and TLS handshake per delivery would
// cost more than the delivery. (node:http rather than fetch: fetch's web streams cost ~3x the CPU.)
const agents = {
  "http:": new http.Agent({ keepAlive: true }),
  "https:": new https.Agent({ keepAlive: true }),
};

type Target = Pick<http.RequestOptions, "protocol" | "hostname" | "port" | "path" | "auth">;

/**
 * The request options of a provider URL, parsed once: the URLs come from the configuration, so a
 * handful serve every delivery, and parsing one per request showed in the dispatcher's profile.
 */
const targets = new Map<string, Target>();
const MAX_TARGETS = 64;

function targetOf(raw: string): Target {
  let target = targets.get(raw);
  if (target === undefined) {
    const url = new URL(raw);
    target = {
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: url.port === "" ? undefined : Number(url.port),
      path: `${url.pathname}${url.search}`,
      auth:
        url.username || url.password
          ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`
          : undefined,
    };
    if (targets.size >= MAX_TARGETS) targets.clear();
    targets.set(raw, target);
  }
  return target;
}

function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/**
 * POSTs once with a per-attempt timeout covering the whole exchange. Resolves with the answer (any
 * status) or rejects with a network error, a timeout (`TimeoutError`) or an abort from `signal`
 * (shutdown, `AbortError`).
 */
export function post(call: HttpCall, signal: AbortSignal): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(namedError("AbortError", "aborted before sending"));
      return;
    }
    const target = targetOf(call.url);
    const body = Buffer.from(call.body, "utf8");
    const client = target.protocol === "https:" ? https : http;
    let settled = false;
    const finish = (error: Error | undefined, answer?: HttpAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      if (error) reject(error);
      else if (answer) resolve(answer);
    };
    const req = client.request(requestOptions(call, target, body.length), (res) => readAnswer(res, finish));
    const timer = setTimeout(() => {
      const error = namedError("TimeoutError", `no answer within ${call.timeoutMs} ms`);
      finish(error);
      req.destroy(error);
    }, call.timeoutMs);
    const onAbort = () => {
      const error = namedError("AbortError", "aborted: the dispatcher is stopping");
      finish(error);
      req.destroy(error);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    req.on("error", (error) => finish(error));
    req.end(body);
  });
}

function requestOptions(call: HttpCall, target: Target, contentLength: number): http.RequestOptions {
  return {
    ...target,
    method: "POST",
    agent: call.agent ?? agents[target.protocol as keyof typeof agents],
    headers: {
      "Content-Type": "application/json",
      ...call.headers,
      ...(call.idempotencyKey === undefined ? {} : { "Idempotency-Key": call.idempotencyKey }),
      "Content-Length": contentLength,
    },
  };
}

/** The status, the Retry-After header and the first BODY_KEPT bytes of the body (all a result needs). */
function readAnswer(res: http.IncomingMessage, finish: (error: Error | undefined, answer?: HttpAnswer) => void): void {
  const chunks: Buffer[] = [];
  let kept = 0;
  res.on("data", (chunk: Buffer) => {
    if (kept < BODY_KEPT) {
      chunks.push(chunk);
      kept += chunk.length;
    }
  });
  res.on("end", () =>
    finish(undefined, {
      status: res.statusCode ?? 0,
      bodyStart: Buffer.concat(chunks).subarray(0, BODY_KEPT).toString("utf8"),
      retryAfter: (res.headers["retry-after"] as string | undefined) ?? null,
    }),
  );
  res.on("error", (error) => finish(error));
}

/**
 * 4xx answers that mean "not now" rather than "never": 408 Request Timeout, 429 Too Many Requests,
 * and the two a provider that honours Idempotency-Key gives a repeat of a request it is still
 * working on — 409 Conflict ("the original is in progress") and 425 Too Early. A repeat follows an
 * attempt of ours that timed out or whose dispatcher died after the provider got it: taken as
 * final, it would record `failed` a code that the original request is delivering.
 */
const TRANSIENT_4XX = new Set([408, 409, 425, 429]);

/** Network errors, timeouts, TRANSIENT_4XX and 5xx are worth another try; other non-2xx are not. */
export function isTransientStatus(status: number): boolean {
  return status >= 500 || TRANSIENT_4XX.has(status);
}

/** Retry-After as seconds or an HTTP date, in ms from now; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Whitespace and control characters (C0, DEL, C1): each run becomes one space in an error text. */
const SPACES_AND_CONTROLS = /[\s\p{Cc}]+/gu;

/**
 * A short, single-line error text: the status and the first bytes of the body, with the code, the
 * texts and the target cut out (redact.ts) before the body is shortened, so no cut hides one.
 * Control characters go too: PostgreSQL refuses a NUL in text, and a status write that fails for
 * its data would hold the delivery for ever (docs/delivery.md, "Delivery status").
 */
export function describeStatus(answer: HttpAnswer, redact: Redactor): string {
  const body = redact(answer.bodyStart).replace(SPACES_AND_CONTROLS, " ").trim().slice(0, SNIPPET_CHARS);
  return body ? `HTTP ${answer.status}: ${body}` : `HTTP ${answer.status}`;
}

/** Classifies an answer by status (the direct telegram quirk is handled by the caller first). */
export function classifyAnswer(answer: HttpAnswer, redact: Redactor): AttemptResult {
  if (answer.status >= 200 && answer.status < 300) return { ok: true, status: answer.status };
  const transient = isTransientStatus(answer.status);
  const retryAfterMs = answer.status === 429 || answer.status === 503 ? parseRetryAfter(answer.retryAfter) : undefined;
  return {
    ok: false,
    transient,
    status: answer.status,
    error: describeStatus(answer, redact),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  };
}

/** A thrown fetch error as an attempt result: always transient (the provider may be back soon). */
export function classifyError(error: unknown, timeoutMs: number): AttemptResult {
  const e = error as { name?: string; code?: string; cause?: { code?: string; name?: string } };
  if (e.name === "TimeoutError") return { ok: false, transient: true, error: `timeout after ${timeoutMs} ms` };
  const code = e.code ?? e.cause?.code ?? e.cause?.name ?? e.name ?? "Error";
  return { ok: false, transient: true, error: `network error: ${code}` };
}

/** True when `signal` (shutdown) is why the request stopped: not an attempt result at all. */
export function isAbort(error: unknown, signal: AbortSignal): boolean {
  return signal.aborted && (error as { name?: string }).name === "AbortError";
}
