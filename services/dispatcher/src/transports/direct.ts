import { phpJsonEncode } from "../php-json.js";
import { type ProviderCall, type ProviderSettings, RenderError, renderCall, secretsOf } from "../render.js";
import { classifyAnswer, classifyError, isAbort, post } from "./http.js";
import type { AttemptResult, DeliveryRequest, Transport } from "./types.js";

/**
 * http-telegram-notify answers 500 even after it has sent the message, with a body that starts
 * "Sent message" (SPEC §4): that is a success. Anything else is judged as usual.
 */
export const TELEGRAM_SENT_PREFIX = "Sent message";

/** The same calls as the Queue tasks describe, made straight to the SMS, Email and Telegram services. */
export function directTransport(options: {
  readonly providers: ProviderSettings;
  readonly timeoutMs: number;
}): Transport {
  return {
    mode: "direct",
    async deliver(request: DeliveryRequest, signal: AbortSignal): Promise<AttemptResult> {
      let call: ProviderCall;
      try {
        call = renderCall(options.providers, request.channel, request.target, request.content);
      } catch (error) {
        if (error instanceof RenderError) return { ok: false, transient: false, error: error.message };
        throw error;
      }
      const secrets = secretsOf(call, request.content);
      try {
        const answer = await post(
          {
            url: call.url,
            body: phpJsonEncode(call.json),
            headers: call.headers ?? {},
            idempotencyKey: request.eventId,
            timeoutMs: options.timeoutMs,
            secrets,
          },
          signal,
        );
        if (
          request.channel === "telegram" &&
          answer.status === 500 &&
          answer.bodyStart.startsWith(TELEGRAM_SENT_PREFIX)
        ) {
          return { ok: true, status: 500, note: "telegram answered 500 after sending" };
        }
        return classifyAnswer(answer, secrets);
      } catch (error) {
        if (isAbort(error, signal)) throw error;
        return classifyError(error, options.timeoutMs);
      }
    },
  };
}
