import { z } from "zod";
import { ASSURANCE_LEVELS, RESEND_MODES } from "../guessing.js";
import { PHONE_CHECKS } from "../phone.js";
import { WEBHOOK_SECRET_PATTERN } from "../signing.js";
import { amqpUrlList } from "./amqp-url.js";
import {
  bool,
  channelList,
  int,
  oneOf,
  optionalBool,
  optionalInt,
  optionalStr,
  originList,
  phoneRegion,
  secondsAsMs,
  secondsOrOff,
  str,
  url,
} from "./parsers.js";

/** Every variable either process reads, with its default. Tests compare this list with compose and docs/configuration.md. */
export const EnvSchema = z.object({
  PORT: int(3000, 1, 65535),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),

  PG_HOST: str("localhost"),
  PG_REAL_HOST: optionalStr(),
  PG_PORT: int(5432, 1, 65535),
  PG_DATABASE: str("otp"),
  PG_SCHEMA: z
    .string()
    .trim()
    .default("public")
    .pipe(z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, { error: "must be a lower-case SQL identifier" })),
  PG_USER: str("postgres"),
  PG_PASSWORD: z.string().default(""),
  PG_POOL_MAX: int(10, 1, 1000),
  PG_QUERY_TIMEOUT: secondsAsMs(60, 10, 3600),

  RABBITMQ_URL: amqpUrlList("amqp://guest:guest@localhost:5672"),
  RABBITMQ_PREFIX: z
    .string()
    .trim()
    .default("otp")
    .pipe(z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, { error: "must be letters, digits, '.', '_' or '-'" })),

  OTP_QUEUE_URL: url("http://queue"),
  OTP_SMS_URL: url("http://sms"),
  OTP_SMS_WORKER: str("sms"),
  OTP_CALL_URL: url("http://sms"),
  OTP_CALL_WORKER: str("sms"),
  OTP_EMAIL_URL: url("http://email"),
  OTP_EMAIL_WORKER: str("email"),
  OTP_TELEGRAM_URL: url("http://telegram:8080"),
  OTP_TELEGRAM_APP_TOKEN: z.string().default(""),
  OTP_TELEGRAM_WORKER: str("telegram"),
  DUMMY: bool(false),

  HTTP_AUTH_USERNAME: optionalStr(),
  HTTP_AUTH_PASSWORD: optionalStr(),
  HTTP_REQUEST_TIMEOUT: secondsAsMs(10, 0.1, 3600),
  HTTP_HEADERS_TIMEOUT: secondsAsMs(10, 0.1, 3600),
  HTTP_KEEPALIVE_TIMEOUT: secondsAsMs(5, 0, 3600),
  HTTP_CONNECTIONS_CHECK_INTERVAL: secondsAsMs(1, 0.1, 60),
  HTTP_MAX_CONNECTIONS: int(10_000, 1, 1_000_000),
  OTP_ALLOWED_ORIGINS: originList,

  OTP_DELIVERY_MODE: z
    .string()
    .trim()
    .toLowerCase()
    .default("queue")
    .pipe(z.enum(["queue", "direct"], { error: 'must be "queue" or "direct"' })),
  OTP_SECRET: optionalStr().pipe(z.string().min(16, { error: "must be at least 16 characters" }).optional()),
  OTP_CODE_LENGTH: int(6, 4, 12),
  // Default 86400, or 600 under OTP_ASSURANCE=strict (config.ts).
  OTP_MAX_LIFETIME: optionalInt(1, 31_536_000),
  OTP_MAX_CHECK_ATTEMPTS: int(5, 0, 1_000_000),
  // Default false, or true under OTP_ASSURANCE=strict (config.ts).
  OTP_SINGLE_USE: optionalBool(),
  OTP_TELEGRAM_CODE_LENGTH: int(6, 4, 12),
  OTP_TELEGRAM_LIFETIME: int(300, 1, 31_536_000),
  OTP_TELEGRAM_MESSAGE: z.string().default("Your code: {password}"),
  OTP_TELEGRAM_WEBHOOK_SECRET: optionalStr().pipe(
    z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,256}$/, {
        error: "must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)",
      })
      .optional(),
  ),
  OTP_PHONE_CHECK: z
    .string()
    .trim()
    .toLowerCase()
    .default("valid")
    .pipe(z.enum(PHONE_CHECKS, { error: 'must be "valid", "possible" or "off"' })),
  OTP_DEFAULT_REGION: phoneRegion,
  OTP_EMAIL_CANONICAL: bool(false),
  // Retention of OTP rows (docs/operations.md, "Retention"): 7 days after a code expired; 0 or off keeps every row.
  OTP_RETENTION: secondsOrOff(604_800, 315_360_000),
  OTP_DELIVERY_TIMEOUT: secondsAsMs(10, 0.1, 300),
  OTP_DELIVERY_MAX_ATTEMPTS: int(8, 1, 100),

  // Guessing (docs/security.md, "Guessing"); OTP_MAX_LIFETIME and OTP_SINGLE_USE above follow OTP_ASSURANCE too.
  OTP_ASSURANCE: oneOf(ASSURANCE_LEVELS),
  OTP_CHECK_THROTTLE_AFTER: int(5, 0, 1000),
  // Default "new", or "supersede" under OTP_ASSURANCE=strict (config.ts).
  OTP_RESEND: oneOf(RESEND_MODES),
  OTP_LOOKUP_MISSES: int(10, 0, 1_000_000),

  // The destination policy's pre-send hook (docs/policy.md); unset URL: no hook.
  OTP_PRESEND_HOOK_URL: optionalStr().pipe(url("").optional()),
  OTP_PRESEND_HOOK_SECRET: optionalStr().pipe(
    z
      .string()
      .regex(WEBHOOK_SECRET_PATTERN, { error: "must be whsec_ followed by base64 (Standard Webhooks)" })
      .optional(),
  ),
  OTP_PRESEND_HOOK_TIMEOUT_MS: int(1000, 10, 60_000),
  OTP_PRESEND_HOOK_FAIL: oneOf(["open", "closed"]),
  OTP_PRESEND_HOOK_ALLOW_PRIVATE: bool(false),

  // Test targets (docs/test-targets.md): refused under OTP_ASSURANCE=strict (config.ts).
  OTP_TEST_TARGETS: bool(false),
  // Lifecycle webhooks (docs/lifecycle.md): one subscription without the API, and private targets.
  OTP_WEBHOOK_URL: optionalStr(),
  OTP_WEBHOOK_SECRET: optionalStr().pipe(
    z
      .string()
      .regex(WEBHOOK_SECRET_PATTERN, { error: "must be whsec_ followed by base64 (Standard Webhooks)" })
      .optional(),
  ),
  OTP_WEBHOOK_EVENTS: optionalStr(),
  OTP_WEBHOOK_ALLOW_PRIVATE: bool(false),
  // How the dispatcher delivers them (docs/webhooks.md): retried for OTP_WEBHOOK_MAX_AGE, each attempt within OTP_WEBHOOK_TIMEOUT.
  OTP_WEBHOOK_MAX_AGE: secondsAsMs(86_400, 1, 2_592_000),
  OTP_WEBHOOK_TIMEOUT: secondsAsMs(10, 0.1, 300),

  DISPATCHER_CHANNELS: channelList,
  DISPATCHER_PREFETCH: int(128, 1, 10_000),
  DISPATCHER_PORT: int(3001, 0, 65535),
});

export type Env = z.output<typeof EnvSchema>;
/** The variable names, for the tests that check compose and docs/configuration.md mention each of them. */
export const ENV_VARIABLES = Object.keys(EnvSchema.shape) as (keyof Env)[];
