import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { OkResponse, TelegramUpdate } from "@otp/contracts";
import { handleTelegramUpdate } from "../domain/webhook.js";
import { WEBHOOK_PATH } from "../http/auth.js";
import { readBody } from "../http/body.js";
import type { AppEnv } from "../http/env.js";
import { ok } from "../http/envelope.js";
import { defineRoute, errors, json } from "../http/route.js";
import { maskTarget } from "../mask.js";
import type { RouteContext } from "./context.js";

/**
 * `POST /telegram/webhook`: Telegram posts every message to the bot here. The answer is 200 whether
 * or not a code was issued (refused by a limit or the policy, an unreadable test target, no chat):
 * anything else makes Telegram send the update again and again. Only an outage (503) asks for that on purpose. The secret header is
 * checked by the auth middleware, with the rest of who-may-call-what.
 */
export function telegramRoutes(app: OpenAPIHono<AppEnv>, { deps, issuer }: RouteContext): void {
  const settings = deps.config.telegramWebhook;
  const { logger, metrics } = deps;
  defineRoute(
    app,
    createRoute({
      method: "post",
      path: WEBHOOK_PATH,
      tags: ["Telegram"],
      summary: "Telegram bot webhook",
      description:
        "Any update with a chat gets a generated code sent to that chat (telegram `chat_ids` limits apply, ip " +
        "limits do not). Checked against `X-Telegram-Bot-Api-Secret-Token` when OTP_TELEGRAM_WEBHOOK_SECRET is set.",
      request: { body: { content: { "application/json": { schema: TelegramUpdate } } } },
      responses: {
        200: json(OkResponse, "Every update, including those refused by limits or without a chat."),
        ...errors("bad_request", "payload_too_large"),
      },
    }),
    async (c) => {
      const outcome = await handleTelegramUpdate(issuer, settings, await readBody(c));
      const reqId = c.get("requestId");
      if (outcome.kind === "ignored") {
        logger.info({ reqId, reason: outcome.reason }, "telegram update ignored");
      } else {
        const chat = maskTarget(outcome.chatId);
        c.set("target", chat);
        if (outcome.kind === "issued") {
          // A test target's code is counted apart (docs/test-targets.md), as on POST /telegram.
          (outcome.test ? metrics.otpTestCreated : metrics.otpCreated).inc({ channel: "telegram" });
          logger.info({ reqId, chat, id: outcome.id }, "telegram webhook issued a code");
        } else {
          metrics.otpRefused.inc({ channel: "telegram", reason: outcome.refusal.code });
          logger.warn({ reqId, chat, reason: outcome.refusal.message }, "telegram webhook refused the create");
        }
      }
      return ok(c);
    },
  );
}
