import { phpJsonEncode } from "./php-json.js";
import { httpTransport } from "./provider-call.js";
import { type ProviderSettings, queueTask } from "./render.js";
import type { Transport } from "./types.js";

/** The original product's way: one `POST {OTP_QUEUE_URL}/task` per delivery; the Queue service calls the provider. */
export function queueTransport(options: {
  readonly queueUrl: string;
  readonly providers: ProviderSettings;
  readonly timeoutMs: number;
}): Transport {
  return httpTransport({
    mode: "queue",
    providers: options.providers,
    timeoutMs: options.timeoutMs,
    route: (call) => ({ url: `${options.queueUrl}/task`, body: phpJsonEncode(queueTask(call)), headers: {} }),
  });
}
