import { phpJsonEncode } from "../php-json.js";
import { type ProviderCall, type ProviderSettings, queueTask, RenderError, renderCall, secretsOf } from "../render.js";
import { classifyAnswer, classifyError, isAbort, post } from "./http.js";
import type { AttemptResult, DeliveryRequest, Transport } from "./types.js";

/** The seed's way: one `POST {OTP_QUEUE_URL}/task` per delivery; the Queue service calls the provider. */
export function queueTransport(options: {
  readonly queueUrl: string;
  readonly providers: ProviderSettings;
  readonly timeoutMs: number;
}): Transport {
  return {
    mode: "queue",
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
            url: `${options.queueUrl}/task`,
            body: phpJsonEncode(queueTask(call)),
            headers: {},
            idempotencyKey: request.eventId,
            timeoutMs: options.timeoutMs,
            secrets,
          },
          signal,
        );
        return classifyAnswer(answer, secrets);
      } catch (error) {
        if (isAbort(error, signal)) throw error;
        return classifyError(error, options.timeoutMs);
      }
    },
  };
}
