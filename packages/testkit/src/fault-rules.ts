import type { IncomingMessage, ServerResponse } from "node:http";
import { sendJson } from "./http-helpers.js";
import type { RecordedRequest } from "./recorded-request.js";

/** How the recording provider misbehaves (see recording-provider.ts): which requests, how often, what answer. */
export interface FaultRule {
  /** Applies only to requests whose path starts with this. */
  readonly path?: string;
  /** Applies to this many matching requests, then is removed. Absent: to every matching request. */
  readonly times?: number;
  /** Applies to each matching request with this probability (0…1). Absent: 1. */
  readonly rate?: number;
  /**
   * respond (default): answer with status/body/headers;
   * reset: destroy the connection without an answer (a network error for the client);
   * hang: never answer (until release() or reset()) — the client times out;
   * telegram-sent: answer like http-telegram-notify after sending: HTTP 500, text body `Sent message "…" to <id>`.
   */
  readonly action?: "respond" | "reset" | "hang" | "telegram-sent";
  /** Default 500. */
  readonly status?: number;
  /** A string is sent as is; anything else as JSON. Default `{"status": false}` (`{"status": true}` for 2xx). */
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** Waits this long before answering. */
  readonly delayMs?: number;
}

/** A rule as the provider holds it: with how many more requests it applies to. */
export interface ActiveRule extends FaultRule {
  remaining: number;
}

export function activeRule(rule: FaultRule): ActiveRule {
  return { ...rule, remaining: rule.times ?? Number.POSITIVE_INFINITY };
}

/**
 * The rule that decides the answer to a request for `path`: the first that applies, in the order
 * added. It counts as used (and goes once used `times` times).
 */
export function pickRule(rules: ActiveRule[], path: string): ActiveRule | undefined {
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i];
    if (!rule) continue;
    if (rule.path !== undefined && !path.startsWith(rule.path)) continue;
    if (rule.rate !== undefined && Math.random() >= rule.rate) continue;
    rule.remaining -= 1;
    if (rule.remaining <= 0) rules.splice(i, 1);
    return rule;
  }
  return undefined;
}

/** Answers (or cuts) the request as `rule` says, `{"status": true}` without one; notes it in `record`. */
export function answerByRule(
  req: IncomingMessage,
  res: ServerResponse,
  rule: ActiveRule | undefined,
  record: RecordedRequest,
): void {
  if (rule?.action === "reset") {
    record.answer = "reset";
    req.socket.destroy();
    return;
  }
  if (rule?.action === "telegram-sent") {
    const json = (record.json ?? {}) as { message?: unknown; to?: unknown };
    record.answer = 500;
    res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
    res.end(`Sent message ${JSON.stringify(String(json.message ?? ""))} to ${String(json.to ?? "")}\n`);
    return;
  }
  const status = rule?.status ?? 200;
  record.answer = status;
  const answerBody = rule?.body ?? { status: status >= 200 && status < 300 };
  const headers = { ...(rule?.headers ?? {}) };
  if (typeof answerBody === "string") {
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8", ...headers });
    res.end(answerBody);
  } else {
    sendJson(res, status, answerBody, headers);
  }
}
