import { z } from "zod";

/**
 * The parts of a Telegram `Update` the webhook reads. Telegram sends many more fields and new ones
 * over time, so every object is loose: unknown fields pass, only the chat id matters.
 */
const TelegramMessage = z.looseObject({
  message_id: z.number().optional(),
  date: z.number().optional(),
  chat: z
    .looseObject({
      id: z.union([z.number().int(), z.string().regex(/^-?\d+$/)]),
      type: z.string().optional(),
    })
    .optional(),
  from: z.looseObject({ id: z.number().int() }).optional(),
  text: z.string().optional(),
});

export const TelegramUpdate = z.looseObject({
  update_id: z.number().int().optional(),
  message: TelegramMessage.optional(),
  edited_message: TelegramMessage.optional(),
  channel_post: TelegramMessage.optional(),
  edited_channel_post: TelegramMessage.optional(),
  callback_query: z.looseObject({ message: TelegramMessage.optional() }).optional(),
});
export type TelegramUpdate = z.output<typeof TelegramUpdate>;

/** The chat that wrote to the bot, as a decimal string, or undefined for updates without one. */
export function chatIdOfUpdate(update: TelegramUpdate): string | undefined {
  const message =
    update.message ??
    update.edited_message ??
    update.channel_post ??
    update.edited_channel_post ??
    update.callback_query?.message;
  const id = message?.chat?.id;
  if (id === undefined) return undefined;
  const asNumber = Number(id);
  return Number.isSafeInteger(asNumber) ? String(asNumber) : undefined;
}
