import http from "node:http";
import https from "node:https";
import { isPublicAddress, literalAddress, NOT_PUBLIC, publicOnlyLookup } from "@otp/contracts";
import { classifyError, isAbort, parseRetryAfter, post } from "../transports/http.js";
import type { AttemptResult } from "../transports/index.js";

/** One signed webhook to send. */
export interface WebhookRequest {
  readonly url: string;
  readonly body: string;
  /** The Standard Webhooks headers. */
  readonly headers: Readonly<Record<string, string>>;
}

export interface WebhookSender {
  /**
   * One attempt: a 2xx answer is a delivery; any other answer, a timeout or a network error is
   * transient (retried); a receiver on a non-public address is refused for good (unless
   * allowed). Rejects only when `signal` aborts (shutdown).
   */
  send(request: WebhookRequest, signal: AbortSignal): Promise<AttemptResult>;
}

export interface WebhookSenderOptions {
  /** OTP_WEBHOOK_ALLOW_PRIVATE: receivers on loopback, private and link-local addresses are allowed. */
  readonly allowPrivate: boolean;
  readonly timeoutMs: number;
}

/** The error of a refused receiver: says why, never where (the URL is the subscriber's). */
export const REFUSED_ADDRESS = "refused: the receiver's address is not public (OTP_WEBHOOK_ALLOW_PRIVATE=false)";

/**
 * Sends webhooks over keep-alive agents of their own (a slow receiver holds none of the providers'
 * sockets). Unless private addresses are allowed, the address is checked where it is used: a
 * literal one before sending, a name as it resolves, on every new connection (publicOnlyLookup),
 * so a name that later resolves inside the network (DNS rebinding) is refused too. Errors say what
 * happened (`HTTP 500`, `timeout after 10000 ms`, `network error: ECONNREFUSED`) and never hold the
 * URL, the payload or the receiver's answer.
 */
export function createWebhookSender(options: WebhookSenderOptions): WebhookSender {
  const lookup = options.allowPrivate ? {} : { lookup: publicOnlyLookup };
  const agents = {
    "http:": new http.Agent({ keepAlive: true, ...lookup }),
    "https:": new https.Agent({ keepAlive: true, ...lookup }),
  };
  return {
    async send(request, signal) {
      let url: URL;
      try {
        url = new URL(request.url);
      } catch {
        return { ok: false, transient: false, error: "the subscription's url is not a URL" };
      }
      const agent = agents[url.protocol as keyof typeof agents];
      if (!agent) return { ok: false, transient: false, error: "the subscription's url is not http(s)" };
      const literal = literalAddress(url.hostname);
      if (!options.allowPrivate && literal !== undefined && !isPublicAddress(literal)) {
        return { ok: false, transient: false, error: REFUSED_ADDRESS };
      }
      try {
        const answer = await post({ ...request, timeoutMs: options.timeoutMs, agent }, signal);
        if (answer.status >= 200 && answer.status < 300) return { ok: true, status: answer.status };
        const retryAfterMs =
          answer.status === 429 || answer.status === 503 ? parseRetryAfter(answer.retryAfter) : undefined;
        return {
          ok: false,
          transient: true,
          status: answer.status,
          error: `HTTP ${answer.status}`,
          ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
        };
      } catch (error) {
        if (isAbort(error, signal)) throw error;
        if ((error as { code?: string }).code === NOT_PUBLIC)
          return { ok: false, transient: false, error: REFUSED_ADDRESS };
        return classifyError(error, options.timeoutMs);
      }
    },
  };
}
