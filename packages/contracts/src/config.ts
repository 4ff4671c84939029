import { z } from "zod";
import { CHANNELS, type Channel } from "./channels.js";

/**
 * The configuration of both processes (SPEC §6), parsed once from the environment. Seed variables
 * keep their names and defaults. With nothing set, everything points at a local PostgreSQL and
 * RabbitMQ with their default ports and users.
 */

const str = (fallback: string) => z.string().trim().default(fallback);
const optionalStr = () =>
  z
    .string()
    .trim()
    .optional()
    .transform((v) => (v === "" ? undefined : v));

function int(fallback: number, min: number, max: number) {
  return z
    .string()
    .trim()
    .default(String(fallback))
    .transform((v, ctx) => {
      const n = Number(v);
      if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `must be an integer from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });
}

/** Seconds, possibly fractional (`OTP_DELIVERY_TIMEOUT=2.5`), returned as milliseconds. */
function secondsAsMs(fallback: number, min: number, max: number) {
  return z
    .string()
    .trim()
    .default(String(fallback))
    .transform((v, ctx) => {
      const n = Number(v);
      if (v === "" || !Number.isFinite(n) || n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `must be a number of seconds from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return Math.round(n * 1000);
    });
}

function bool(fallback: boolean) {
  return z
    .string()
    .trim()
    .default(String(fallback))
    .transform((v, ctx) => {
      const s = v.toLowerCase();
      if (["true", "1", "yes", "on"].includes(s)) return true;
      if (["false", "0", "no", "off", ""].includes(s)) return false;
      ctx.addIssue({ code: "custom", message: `must be true or false, got "${v}"` });
      return z.NEVER;
    });
}

function url(fallback: string) {
  return z
    .string()
    .trim()
    .default(fallback)
    .transform((v, ctx) => {
      try {
        const u = new URL(v);
        if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("scheme");
      } catch {
        ctx.addIssue({ code: "custom", message: `must be an http(s) URL, got "${v}"` });
        return z.NEVER;
      }
      return v.replace(/\/+$/, "");
    });
}

const channelList = z
  .string()
  .trim()
  .default(CHANNELS.join(","))
  .transform((v, ctx) => {
    const names = v
      .split(/[\s,]+/)
      .map((s) => s.toLowerCase())
      .filter(Boolean);
    const unknown = names.filter((n) => !(CHANNELS as readonly string[]).includes(n));
    if (names.length === 0 || unknown.length > 0) {
      ctx.addIssue({
        code: "custom",
        message: `must be a comma-separated subset of ${CHANNELS.join(",")}, got "${v}"`,
      });
      return z.NEVER;
    }
    return [...new Set(names)] as Channel[];
  });

/** Every variable either process reads, with its default. Tests compare this list with compose and the README. */
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

  RABBITMQ_URL: z
    .string()
    .trim()
    .default("amqp://guest:guest@localhost:5672")
    .pipe(z.string().regex(/^amqps?:\/\//, { error: "must be an amqp:// or amqps:// URL" })),
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

  OTP_DELIVERY_MODE: z
    .string()
    .trim()
    .toLowerCase()
    .default("queue")
    .pipe(z.enum(["queue", "direct"], { error: 'must be "queue" or "direct"' })),
  OTP_SECRET: optionalStr().pipe(z.string().min(16, { error: "must be at least 16 characters" }).optional()),
  OTP_CODE_LENGTH: int(6, 4, 12),
  OTP_MAX_LIFETIME: int(86_400, 1, 31_536_000),
  OTP_MAX_CHECK_ATTEMPTS: int(5, 0, 1_000_000),
  OTP_SINGLE_USE: bool(false),
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
  OTP_DELIVERY_TIMEOUT: secondsAsMs(10, 0.1, 300),
  OTP_DELIVERY_MAX_ATTEMPTS: int(8, 1, 100),

  DISPATCHER_CHANNELS: channelList,
  DISPATCHER_PREFETCH: int(128, 1, 10_000),
  DISPATCHER_PORT: int(3001, 0, 65535),
});

export type Env = z.output<typeof EnvSchema>;
/** The variable names, for the tests that check compose and the README mention each of them. */
export const ENV_VARIABLES = Object.keys(EnvSchema.shape) as (keyof Env)[];

export interface PgConfig {
  readonly host: string;
  /** Where migrations run: the real server, bypassing a pooler such as PgBouncer. */
  readonly realHost: string;
  readonly port: number;
  readonly database: string;
  readonly schema: string;
  readonly user: string;
  readonly password: string;
  readonly poolMax: number;
}

export interface Config {
  readonly port: number;
  readonly logLevel: Env["LOG_LEVEL"];
  readonly pg: PgConfig;
  readonly amqp: { readonly url: string; readonly prefix: string };
  readonly auth: { readonly username: string; readonly password: string } | undefined;
  readonly otp: {
    readonly secret: string | undefined;
    readonly codeLength: number;
    readonly maxLifetime: number;
    readonly maxCheckAttempts: number;
    readonly singleUse: boolean;
  };
  readonly telegramWebhook: {
    readonly codeLength: number;
    readonly lifetime: number;
    readonly message: string;
    readonly secret: string | undefined;
  };
  readonly delivery: {
    readonly mode: "queue" | "direct";
    readonly dummy: boolean;
    readonly timeoutMs: number;
    readonly maxAttempts: number;
    readonly queueUrl: string;
    readonly sms: { readonly url: string; readonly worker: string };
    readonly call: { readonly url: string; readonly worker: string };
    readonly email: { readonly url: string; readonly worker: string };
    readonly telegram: { readonly url: string; readonly worker: string; readonly appToken: string };
  };
  readonly dispatcher: { readonly channels: readonly Channel[]; readonly prefetch: number; readonly port: number };
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; errors: string[] };

/**
 * Parses the environment. Errors come back as values, one line per bad variable, naming it, so the
 * caller decides how to stop (the mains print them and exit 1).
 */
export function parseConfig(env: Readonly<Record<string, string | undefined>>): ConfigResult {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const errors = parsed.error.issues.map((issue) => `${String(issue.path[0] ?? "environment")}: ${issue.message}`);
    return { ok: false, errors };
  }
  const e = parsed.data;
  const errors: string[] = [];
  if ((e.HTTP_AUTH_USERNAME === undefined) !== (e.HTTP_AUTH_PASSWORD === undefined)) {
    const missing = e.HTTP_AUTH_USERNAME === undefined ? "HTTP_AUTH_USERNAME" : "HTTP_AUTH_PASSWORD";
    errors.push(
      `${missing}: must be set together with ${missing === "HTTP_AUTH_USERNAME" ? "HTTP_AUTH_PASSWORD" : "HTTP_AUTH_USERNAME"}`,
    );
  }
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    config: {
      port: e.PORT,
      logLevel: e.LOG_LEVEL,
      pg: {
        host: e.PG_HOST,
        realHost: e.PG_REAL_HOST ?? e.PG_HOST,
        port: e.PG_PORT,
        database: e.PG_DATABASE,
        schema: e.PG_SCHEMA,
        user: e.PG_USER,
        password: e.PG_PASSWORD,
        poolMax: e.PG_POOL_MAX,
      },
      amqp: { url: e.RABBITMQ_URL, prefix: e.RABBITMQ_PREFIX },
      auth:
        e.HTTP_AUTH_USERNAME !== undefined && e.HTTP_AUTH_PASSWORD !== undefined
          ? { username: e.HTTP_AUTH_USERNAME, password: e.HTTP_AUTH_PASSWORD }
          : undefined,
      otp: {
        secret: e.OTP_SECRET,
        codeLength: e.OTP_CODE_LENGTH,
        maxLifetime: e.OTP_MAX_LIFETIME,
        maxCheckAttempts: e.OTP_MAX_CHECK_ATTEMPTS,
        singleUse: e.OTP_SINGLE_USE,
      },
      telegramWebhook: {
        codeLength: e.OTP_TELEGRAM_CODE_LENGTH,
        lifetime: e.OTP_TELEGRAM_LIFETIME,
        message: e.OTP_TELEGRAM_MESSAGE,
        secret: e.OTP_TELEGRAM_WEBHOOK_SECRET,
      },
      delivery: {
        mode: e.OTP_DELIVERY_MODE,
        dummy: e.DUMMY,
        timeoutMs: e.OTP_DELIVERY_TIMEOUT,
        maxAttempts: e.OTP_DELIVERY_MAX_ATTEMPTS,
        queueUrl: e.OTP_QUEUE_URL,
        sms: { url: e.OTP_SMS_URL, worker: e.OTP_SMS_WORKER },
        call: { url: e.OTP_CALL_URL, worker: e.OTP_CALL_WORKER },
        email: { url: e.OTP_EMAIL_URL, worker: e.OTP_EMAIL_WORKER },
        telegram: { url: e.OTP_TELEGRAM_URL, worker: e.OTP_TELEGRAM_WORKER, appToken: e.OTP_TELEGRAM_APP_TOKEN },
      },
      dispatcher: { channels: e.DISPATCHER_CHANNELS, prefetch: e.DISPATCHER_PREFETCH, port: e.DISPATCHER_PORT },
    },
  };
}

/**
 * For the mains: parse or stop the process with a message naming each bad variable. The only
 * place that touches `process.env`.
 */
export function loadConfigOrExit(env: Readonly<Record<string, string | undefined>> = process.env): Config {
  const result = parseConfig(env);
  if (result.ok) return result.config;
  process.stderr.write(`Invalid configuration:\n${result.errors.map((e) => `  ${e}`).join("\n")}\n`);
  process.exit(1);
}
