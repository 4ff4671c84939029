import { createHash, timingSafeEqual } from "node:crypto";
import type { Config } from "@otp/contracts";
import type { MiddlewareHandler } from "hono";
import { basicAuth } from "hono/basic-auth";
import { ApiError } from "../errors.js";
import type { AppEnv } from "./env.js";

export const WEBHOOK_PATH = "/telegram/webhook";
const WEBHOOK_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token";

/**
 * Who may call what (SPEC §3), decided in one place:
 * - `/health`: anyone (orchestrators probe it without credentials);
 * - the webhook, when `OTP_TELEGRAM_WEBHOOK_SECRET` is set: whoever sends that secret, and it is
 *   exempt from basic auth, because Telegram can send the secret header but no credentials;
 * - everything else, the webhook without a secret included: HTTP Basic when `HTTP_AUTH_*` are set.
 * Hono's basic auth compares in constant time; its 401 becomes our envelope in the error handler.
 */
export function authMiddleware(config: Config): MiddlewareHandler<AppEnv> {
  const credentials = config.auth;
  const basic = credentials
    ? basicAuth({ username: credentials.username, password: credentials.password, realm: "otp" })
    : undefined;
  const webhookSecret = config.telegramWebhook.secret;
  return async (c, next) => {
    const path = c.req.path;
    if (path === "/health") return next();
    if (webhookSecret !== undefined && path === WEBHOOK_PATH) {
      verifyWebhookSecret(webhookSecret, c.req.header(WEBHOOK_SECRET_HEADER));
      return next();
    }
    return basic ? basic(c, next) : next();
  };
}

/** The webhook's secret header, compared in constant time (digests of equal length). */
function verifyWebhookSecret(expected: string, given: string | undefined): void {
  const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();
  if (given === undefined || !timingSafeEqual(digest(expected), digest(given))) {
    throw new ApiError("unauthorized", `Missing or wrong ${WEBHOOK_SECRET_HEADER}`);
  }
}
