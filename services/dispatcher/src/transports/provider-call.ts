import { classifyAnswer, classifyError, type HttpAnswer, type HttpCall, isAbort, post } from "./http.js";
import { redactorFor } from "./redact.js";
import { type ProviderCall, type ProviderSettings, RenderError, renderCall } from "./render.js";
import type { AttemptResult, DeliveryRequest, Transport } from "./types.js";

/** Where and what to POST for one rendered provider call. */
export type Route = Pick<HttpCall, "url" | "body" | "headers">;

export interface HttpTransportOptions {
  readonly mode: Transport["mode"];
  readonly providers: ProviderSettings;
  readonly timeoutMs: number;
  /** Turns the provider call the event describes into the request this mode sends. */
  readonly route: (call: ProviderCall) => Route;
  /** A mode's own reading of an answer before the usual classification (undefined: no opinion). */
  readonly accept?: (request: DeliveryRequest, answer: HttpAnswer) => AttemptResult | undefined;
}

/**
 * The one attempt both HTTP modes make: render the provider call from the event, POST it where the
 * mode routes it (with the Idempotency-Key and the timeout), and classify the answer or the error.
 * An event that cannot be rendered is a permanent failure; an abort (shutdown) is rethrown.
 */
export function httpTransport(options: HttpTransportOptions): Transport {
  return {
    mode: options.mode,
    async deliver(request: DeliveryRequest, signal: AbortSignal): Promise<AttemptResult> {
      let call: ProviderCall;
      try {
        call = renderCall(options.providers, request.channel, request.target, request.content);
      } catch (error) {
        if (error instanceof RenderError) return { ok: false, transient: false, error: error.message };
        throw error;
      }
      const route = options.route(call);
      try {
        const answer = await post({ ...route, idempotencyKey: request.eventId, timeoutMs: options.timeoutMs }, signal);
        const redact = redactorFor({
          channel: request.channel,
          target: request.target,
          call,
          content: request.content,
          sent: route,
        });
        return options.accept?.(request, answer) ?? classifyAnswer(answer, redact);
      } catch (error) {
        if (isAbort(error, signal)) throw error;
        return classifyError(error, options.timeoutMs);
      }
    },
  };
}
