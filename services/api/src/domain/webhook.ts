import { type Config, chatIdOfUpdate, TelegramUpdate } from "@otp/contracts";
import type { Issuer } from "./issue.js";
import type { Refusal } from "./rate-limit.js";

export type WebhookOutcome =
  | { readonly kind: "ignored"; readonly reason: string }
  | { readonly kind: "issued"; readonly chatId: string; readonly id: string; readonly test: boolean }
  | { readonly kind: "refused"; readonly chatId: string; readonly refusal: Refusal };

/**
 * The bot's webhook (docs/api.md, "Telegram webhook"): any update carrying a chat gets a generated code for that chat,
 * through the same issue path as `POST /telegram`, so the telegram `chat_ids` rules apply. The ip
 * rules do not: the request comes from Telegram's servers, and counting their address would make
 * every user of the bot share one limit.
 */
export async function handleTelegramUpdate(
  issuer: Issuer,
  settings: Config["telegramWebhook"],
  body: unknown,
): Promise<WebhookOutcome> {
  const parsed = TelegramUpdate.safeParse(body);
  if (!parsed.success) return { kind: "ignored", reason: "not a Telegram update" };
  const chatId = chatIdOfUpdate(parsed.data);
  if (chatId === undefined) return { kind: "ignored", reason: "update without a chat" };
  const outcome = await issuer.issue({
    channel: "telegram",
    target: chatId,
    codeLength: settings.codeLength,
    lifetimeSeconds: settings.lifetime,
    texts: { message: settings.message },
    ignoreIpRules: true,
  });
  return outcome.accepted
    ? { kind: "issued", chatId, id: outcome.id, test: outcome.test === true }
    : { kind: "refused", chatId, refusal: outcome.refusal };
}
