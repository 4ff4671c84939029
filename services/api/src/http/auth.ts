import { createHash, timingSafeEqual } from "node:crypto";
import type { Config } from "@otp/contracts";
import type { MiddlewareHandler } from "hono";
import { basicAuth } from "hono/basic-auth";
import { ApiError } from "../api-error.js";
import type { AppEnv } from "./env.js";

export const WEBHOOK_PATH = "/telegram/webhook";
const WEBHOOK_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token";

/**
 * Who may call what (docs/security.md), decided in one place:
 * - `/health` and `/livez`: anyone (orchestrators probe them without credentials);
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
  // The expected secret does not change: hash it once here, not on every webhook call.
  const webhookSecret = config.telegramWebhook.secret;
  const expectedDigest = webhookSecret === undefined ? undefined : digest(webhookSecret);
  return async (c, next) => {
    const path = c.req.path;
    if (path === "/health" || path === "/livez") return next();
    if (expectedDigest !== undefined && path === WEBHOOK_PATH) {
      verifyWebhookSecret(expectedDigest, c.req.header(WEBHOOK_SECRET_HEADER));
      return next();
    }
    return basic ? basic(c, next) : next();
  };
}

/** Digests have equal lengths whatever the secrets' lengths, as timingSafeEqual requires. */
function digest(secret: string): Buffer {
  return createHash("sha256").update(secret, "utf8").digest();
}

/** The webhook's secret header, compared in constant time with the expected secret's digest. */
function verifyWebhookSecret(expectedDigest: Buffer, given: string | undefined): void {
  if (given === undefined || !timingSafeEqual(expectedDigest, digest(given))) {
    throw new ApiError("unauthorized", `Missing or wrong ${WEBHOOK_SECRET_HEADER}`);
  }
}
