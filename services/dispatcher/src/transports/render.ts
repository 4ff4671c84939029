import { type Channel, type Config, type DeliveryContent, substitutePassword } from "@otp/contracts";
import { JsonInteger, type PhpJsonValue } from "./php-json.js";

/** One call to a provider service, as the original product described it in its Queue tasks (docs/delivery.md, modes). */
export interface ProviderCall {
  /** The provider endpoint, e.g. `http://sms/sms`. */
  readonly url: string;
  /** The Queue worker pool that rate-limits this provider. */
  readonly worker: string;
  /** The provider's JSON body, keys in the original product's order. */
  readonly json: { readonly [key: string]: PhpJsonValue };
  /** Extra headers for the provider (telegram's X-Auth-Token). */
  readonly headers?: Readonly<Record<string, string>>;
}

export type ProviderSettings = Pick<Config["delivery"], "sms" | "call" | "email" | "telegram">;

/**
 * Every `{password}` replaced by the code, literally (a `$&` in a client's code stays `$&`); an
 * absent text stays absent (sent as null, like the original product).
 */
export function substitute(text: string | null | undefined, password: string): string | null {
  if (text === undefined || text === null) return null;
  return substitutePassword(text, password);
}

/** An event that cannot become a request (e.g. a telegram chat id that is not an integer): permanent. */
export class RenderError extends Error {
  override readonly name = "RenderError";
}

/** Builds the provider call of one delivery: url, worker, body and headers per channel. */
export function renderCall(
  settings: ProviderSettings,
  channel: Channel,
  target: string,
  content: DeliveryContent,
): ProviderCall {
  const { password } = content;
  switch (channel) {
    case "sms":
      return {
        url: `${settings.sms.url}/sms`,
        worker: settings.sms.worker,
        json: { phones: target, message: substitute(content.message, password), force: true },
      };
    case "call":
      return {
        url: `${settings.call.url}/call`,
        worker: settings.call.worker,
        json: { phones: target, message: password, force: true },
      };
    case "email":
      return {
        url: `${settings.email.url}/smtp`,
        worker: settings.email.worker,
        json: {
          to: target,
          subject: substitute(content.subject, password),
          text: substitute(content.text, password),
          html: substitute(content.html, password),
          force: true,
        },
      };
    case "telegram":
      return {
        url: `${settings.telegram.url}/msg`,
        worker: settings.telegram.worker,
        // http-telegram-notify wants an integer chat id.
        json: { to: chatId(target), message: substitute(content.message, password), silent: false },
        headers: { "X-Auth-Token": settings.telegram.appToken },
      };
  }
}

function chatId(target: string): JsonInteger {
  try {
    return new JsonInteger(target);
  } catch {
    throw new RenderError("the telegram chat id is not an integer");
  }
}

/** The Queue task that asks the Queue service to make `call` (the original product's body, key for key). */
export function queueTask(call: ProviderCall): { readonly [key: string]: PhpJsonValue } {
  return {
    url: call.url,
    method: "post",
    worker: call.worker,
    json: call.json,
    ...(call.headers ? { headers: call.headers } : {}),
  };
}
