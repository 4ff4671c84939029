import { createHash, timingSafeEqual } from "node:crypto";
import type { Config } from "@otp/contracts";
import type { MiddlewareHandler } from "hono";
import { basicAuth } from "hono/basic-auth";
import { ApiError } from "../errors.js";
import type { AppEnv } from "./env.js";

export const WEBHOOK_PATH = "/telegram/webhook";

/**
 * HTTP Basic auth when `HTTP_AUTH_USERNAME`/`HTTP_AUTH_PASSWORD` are set (SPEC §3), on everything
 * but `/health`, and but the webhook when it has its own secret (Telegram cannot send credentials).
 * Hono's middleware compares in constant time; its 401 becomes our envelope in the error handler.
 */
export function authMiddleware(config: Config): MiddlewareHandler<AppEnv> {
  const credentials = config.auth;
  if (!credentials) return (_c, next) => next();
  const basic = basicAuth({ username: credentials.username, password: credentials.password, realm: "otp" });
  const webhookHasSecret = config.telegramWebhook.secret !== undefined;
  return (c, next) => {
    const path = c.req.path;
    if (path === "/health" || (webhookHasSecret && path === WEBHOOK_PATH)) return next();
    return basic(c, next);
  };
}

/** The webhook's `X-Telegram-Bot-Api-Secret-Token`, compared in constant time (digests of equal length). */
export function verifyWebhookSecret(expected: string | undefined, given: string | undefined): void {
  if (expected === undefined) return;
  const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();
  if (given === undefined || !timingSafeEqual(digest(expected), digest(given))) {
    throw new ApiError("unauthorized", "Missing or wrong X-Telegram-Bot-Api-Secret-Token");
  }
}
