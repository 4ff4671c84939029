import { type Assurance, type ResendMode, STRICT_PROFILE } from "../guessing.js";
import type { PhoneRules } from "../phone.js";
import type { DispatchRoute } from "../routes.js";
import { CROSS_CHECKS, maxLifetimeOf, strict } from "./cross-checks.js";
import { type Env, EnvSchema } from "./env.js";
import { type PresendHookConfig, presendHookOf } from "./presend-hook.js";
import { type WebhookDeliveryConfig, webhookDeliveryOf } from "./webhook-delivery.js";
import { type WebhooksConfig, webhooksOf } from "./webhooks.js";

/**
 * The configuration of both processes (docs/configuration.md), parsed once from the environment.
 * Variables of the original product keep their names and defaults. With nothing set, everything
 * points at a local PostgreSQL and RabbitMQ with their default ports and users.
 */

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
  /** `PG_QUERY_TIMEOUT`: a query unanswered this long fails and its connection is closed (PostgreSQL gone silent). */
  readonly queryTimeoutMs: number;
}

export interface Config {
  readonly port: number;
  readonly logLevel: Env["LOG_LEVEL"];
  readonly pg: PgConfig;
  /** RABBITMQ_URL's addresses (one, or a cluster's nodes in the order to try them) and RABBITMQ_PREFIX. */
  readonly amqp: { readonly urls: readonly string[]; readonly prefix: string };
  readonly auth: { readonly username: string; readonly password: string } | undefined;
  /** The API's HTTP edge: how long a slow client may hold a connection, and how many may be open. */
  readonly http: {
    readonly requestTimeoutMs: number;
    readonly headersTimeoutMs: number;
    readonly keepAliveTimeoutMs: number;
    readonly connectionsCheckingIntervalMs: number;
    readonly maxConnections: number;
    /** Origins besides the service's own whose browser requests are served. */
    readonly allowedOrigins: readonly string[];
  };
  readonly otp: {
    readonly secret: string | undefined;
    readonly codeLength: number;
    readonly maxLifetime: number;
    readonly maxCheckAttempts: number;
    readonly singleUse: boolean;
    /** The shortest client-supplied `password` accepted: 1, or 6 under OTP_ASSURANCE=strict. */
    readonly minPasswordLength: number;
    /** `OTP_RETENTION`: seconds a row is kept after its code expired (docs/operations.md, "Retention"); 0 = forever. */
    readonly retentionSeconds: number;
  };
  /** The protections against guessing (docs/security.md, "Guessing"). */
  readonly guessing: {
    readonly assurance: Assurance;
    /** Consecutive wrong checks of a target before its checks are refused for a delay; 0 = never refused. */
    readonly checkThrottleAfter: number;
    readonly resend: ResendMode;
    /** `GET /target` misses per channel, `GET /password` misses in all, per minute; 0 = no limit. */
    readonly lookupMisses: number;
  };
  /** How targets are read into their canonical forms (docs/api.md, "Conventions"). */
  readonly targets: {
    /** `OTP_PHONE_CHECK` and `OTP_DEFAULT_REGION`. */
    readonly phone: PhoneRules;
    /** `OTP_EMAIL_CANONICAL`: email limits ignore a `+tag` in the local part. */
    readonly emailCanonical: boolean;
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
  /** The destination policy's pre-send hook; undefined without `OTP_PRESEND_HOOK_URL`. */
  readonly presendHook: PresendHookConfig | undefined;
  /** `OTP_TEST_TARGETS`: the test-target routes and creates (docs/test-targets.md). */
  readonly testTargets: boolean;
  readonly webhooks: WebhooksConfig;
  /** How the dispatcher sends the lifecycle's webhooks (docs/webhooks.md). */
  readonly webhookDelivery: WebhookDeliveryConfig;
  readonly dispatcher: {
    readonly channels: readonly DispatchRoute[];
    readonly prefetch: number;
    readonly port: number;
  };
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
  const errors = CROSS_CHECKS.map((check) => check(parsed.data)).filter((e): e is string => e !== undefined);
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config: configOf(parsed.data) };
}

/** The parsed variables as the services use them: a declarative mapping, one section per concern. */
function configOf(e: Env): Config {
  return {
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
      queryTimeoutMs: e.PG_QUERY_TIMEOUT,
    },
    amqp: { urls: e.RABBITMQ_URL, prefix: e.RABBITMQ_PREFIX },
    auth:
      e.HTTP_AUTH_USERNAME !== undefined && e.HTTP_AUTH_PASSWORD !== undefined
        ? { username: e.HTTP_AUTH_USERNAME, password: e.HTTP_AUTH_PASSWORD }
        : undefined,
    http: {
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT,
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT,
      keepAliveTimeoutMs: e.HTTP_KEEPALIVE_TIMEOUT,
      connectionsCheckingIntervalMs: e.HTTP_CONNECTIONS_CHECK_INTERVAL,
      maxConnections: e.HTTP_MAX_CONNECTIONS,
      allowedOrigins: e.OTP_ALLOWED_ORIGINS,
    },
    otp: {
      secret: e.OTP_SECRET,
      codeLength: e.OTP_CODE_LENGTH,
      maxLifetime: maxLifetimeOf(e),
      maxCheckAttempts: e.OTP_MAX_CHECK_ATTEMPTS,
      singleUse: e.OTP_SINGLE_USE ?? strict(e),
      minPasswordLength: strict(e) ? STRICT_PROFILE.minPasswordLength : 1,
      retentionSeconds: e.OTP_RETENTION,
    },
    guessing: {
      assurance: e.OTP_ASSURANCE ?? "compatible",
      checkThrottleAfter: e.OTP_CHECK_THROTTLE_AFTER,
      resend: e.OTP_RESEND ?? (strict(e) ? "supersede" : "new"),
      lookupMisses: e.OTP_LOOKUP_MISSES,
    },
    targets: {
      phone: { check: e.OTP_PHONE_CHECK, defaultRegion: e.OTP_DEFAULT_REGION },
      emailCanonical: e.OTP_EMAIL_CANONICAL,
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
    presendHook: presendHookOf(e),
    testTargets: e.OTP_TEST_TARGETS,
    webhooks: webhooksOf(e),
    webhookDelivery: webhookDeliveryOf(e),
    dispatcher: { channels: e.DISPATCHER_CHANNELS, prefetch: e.DISPATCHER_PREFETCH, port: e.DISPATCHER_PORT },
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
