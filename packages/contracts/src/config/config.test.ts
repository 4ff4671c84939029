import { describe, expect, it } from "vitest";
import { ENV_VARIABLES, parseConfig } from "./index.js";

function errorsOf(env: Record<string, string>): string[] {
  const result = parseConfig(env);
  if (result.ok) throw new Error("configuration was accepted");
  return result.errors;
}

describe("configuration", () => {
  it("with nothing set, uses the original product's defaults and local PostgreSQL and RabbitMQ", () => {
    const result = parseConfig({});
    if (!result.ok) throw new Error(result.errors.join("; "));
    const c = result.config;
    expect(c.port).toBe(3000);
    expect(c.pg).toEqual({
      host: "localhost",
      realHost: "localhost",
      port: 5432,
      database: "otp",
      schema: "public",
      user: "postgres",
      password: "",
      poolMax: 10,
      queryTimeoutMs: 60_000,
    });
    expect(c.amqp).toEqual({ urls: ["amqp://guest:guest@localhost:5672"], prefix: "otp" });
    expect(c.delivery).toMatchObject({
      mode: "queue",
      dummy: false,
      timeoutMs: 10_000,
      maxAttempts: 8,
      queueUrl: "http://queue",
      sms: { url: "http://sms", worker: "sms" },
      call: { url: "http://sms", worker: "sms" },
      email: { url: "http://email", worker: "email" },
      telegram: { url: "http://telegram:8080", worker: "telegram", appToken: "" },
    });
    expect(c.otp).toEqual({
      secret: undefined,
      codeLength: 6,
      maxLifetime: 86_400,
      maxCheckAttempts: 5,
      singleUse: false,
      minPasswordLength: 1,
      retentionSeconds: 604_800,
    });
    expect(c.telegramWebhook).toEqual({
      codeLength: 6,
      lifetime: 300,
      message: "Your code: {password}",
      secret: undefined,
    });
    expect(c.targets).toEqual({ phone: { check: "valid", defaultRegion: undefined }, emailCanonical: false });
    expect(c.auth).toBeUndefined();
    // Every OTP channel and the lifecycle's webhooks, each on its own queue.
    expect(c.dispatcher.channels).toEqual(["sms", "call", "email", "telegram", "webhook"]);
    expect(c.webhookDelivery).toEqual({ allowPrivate: false, maxAgeMs: 86_400_000, timeoutMs: 10_000 });
  });

  it("reads the original product's variables under their names", () => {
    const result = parseConfig({
      PG_HOST: "pgbouncer",
      PG_REAL_HOST: "db",
      PG_PORT: "6432",
      PG_DATABASE: "otp_db",
      PG_SCHEMA: "otp",
      PG_USER: "user",
      PG_PASSWORD: "secret",
      OTP_QUEUE_URL: "http://queue.internal/",
      DUMMY: "true",
      HTTP_AUTH_USERNAME: "admin",
      HTTP_AUTH_PASSWORD: "pw",
      OTP_DELIVERY_TIMEOUT: "2.5",
      DISPATCHER_CHANNELS: "sms, telegram",
    });
    if (!result.ok) throw new Error(result.errors.join("; "));
    expect(result.config.pg).toMatchObject({ host: "pgbouncer", realHost: "db", port: 6432, schema: "otp" });
    expect(result.config.delivery.queueUrl).toBe("http://queue.internal");
    expect(result.config.delivery.dummy).toBe(true);
    expect(result.config.delivery.timeoutMs).toBe(2500);
    expect(result.config.auth).toEqual({ username: "admin", password: "pw" });
    expect(result.config.dispatcher.channels).toEqual(["sms", "telegram"]);
  });

  it.each([
    [{ PORT: "eighty" }, 'PORT: must be an integer from 1 to 65535, got "eighty"'],
    [{ PG_PORT: "0" }, 'PG_PORT: must be an integer from 1 to 65535, got "0"'],
    [{ DUMMY: "maybe" }, 'DUMMY: must be true or false, got "maybe"'],
    [{ OTP_WEBHOOK_MAX_AGE: "0" }, 'OTP_WEBHOOK_MAX_AGE: must be a number of seconds from 1 to 2592000, got "0"'],
    [{ OTP_DELIVERY_MODE: "carrier-pigeon" }, 'OTP_DELIVERY_MODE: must be "queue" or "direct"'],
    [
      { OTP_SMS_URL: "sms" },
      "OTP_SMS_URL: must be an http(s) URL, and is not a URL (the value is not shown; percent-encode a password's /, ?, # and @)",
    ],
    [
      { OTP_EMAIL_URL: "smtp://mailer:Hunter2Secret@mail" },
      'OTP_EMAIL_URL: must be an http(s) URL, got scheme "smtp:"',
    ],
    [
      { OTP_QUEUE_URL: "https://queue:s3cr#t@queue.internal" },
      "OTP_QUEUE_URL: must be an http(s) URL, and is not a URL (the value is not shown; percent-encode a password's /, ?, # and @)",
    ],
    [
      { RABBITMQ_URL: "http://rabbit" },
      'RABBITMQ_URL: must be an amqp:// or amqps:// URL, or several separated by commas ("http://rabbit/" is not amqp:// or amqps://)',
    ],
    [{ PG_SCHEMA: "Bad-Schema" }, "PG_SCHEMA: must be a lower-case SQL identifier"],
    [{ OTP_SECRET: "short" }, "OTP_SECRET: must be at least 16 characters"],
    [{ OTP_CODE_LENGTH: "2" }, 'OTP_CODE_LENGTH: must be an integer from 4 to 12, got "2"'],
    [{ OTP_DELIVERY_TIMEOUT: "-1" }, 'OTP_DELIVERY_TIMEOUT: must be a number of seconds from 0.1 to 300, got "-1"'],
    [
      { DISPATCHER_CHANNELS: "sms,fax" },
      'DISPATCHER_CHANNELS: must be a comma-separated subset of sms,call,email,telegram,webhook, got "sms,fax"',
    ],
    [{ HTTP_AUTH_USERNAME: "admin" }, "HTTP_AUTH_PASSWORD: must be set together with HTTP_AUTH_USERNAME"],
    [{ LOG_LEVEL: "loud" }, expect.stringMatching(/^LOG_LEVEL: /)],
    [{ OTP_RETENTION: "7d" }, 'OTP_RETENTION: must be a number of seconds from 0 to 315360000, or off, got "7d"'],
    [{ OTP_RETENTION: "-1" }, 'OTP_RETENTION: must be a number of seconds from 0 to 315360000, or off, got "-1"'],
  ])("rejects %j naming the variable", (env, message) => {
    expect(errorsOf(env)).toEqual([message]);
  });

  it("OTP_RETENTION: seconds after a code expired, 0 or off for never", () => {
    const retention = (value: string) => {
      const result = parseConfig({ OTP_RETENTION: value });
      if (!result.ok) throw new Error(result.errors.join("; "));
      return result.config.otp.retentionSeconds;
    };
    expect(retention("86400")).toBe(86_400);
    expect(retention(" 0 ")).toBe(0);
    expect(retention("OFF")).toBe(0);
  });

  it("takes a provider URL with an @ in its path or query, as valid URLs may have", () => {
    const result = parseConfig({
      OTP_QUEUE_URL: "https://queue.example/tasks?notify=ops@example.com",
      OTP_SMS_URL: "https://gw.example/@acme",
    });
    if (!result.ok) throw new Error(result.errors.join("; "));
    expect(result.config.delivery.sms.url).toBe("https://gw.example/@acme");
  });

  it("PG_QUERY_TIMEOUT: seconds, fractions allowed, from 10 to an hour", () => {
    const result = parseConfig({ PG_QUERY_TIMEOUT: "12.5" });
    if (!result.ok) throw new Error(result.errors.join("; "));
    expect(result.config.pg.queryTimeoutMs).toBe(12_500);
    expect(errorsOf({ PG_QUERY_TIMEOUT: "1" })).toEqual([
      'PG_QUERY_TIMEOUT: must be a number of seconds from 10 to 3600, got "1"',
    ]);
  });

  it("guessing: compatible by default, each protection on; strict raises every default to its profile", () => {
    const compatible = parseConfig({});
    if (!compatible.ok) throw new Error(compatible.errors.join("; "));
    expect(compatible.config.guessing).toEqual({
      assurance: "compatible",
      checkThrottleAfter: 5,
      resend: "new",
      lookupMisses: 10,
    });
    const strict = parseConfig({ OTP_ASSURANCE: "strict" });
    if (!strict.ok) throw new Error(strict.errors.join("; "));
    expect(strict.config.guessing).toEqual({
      assurance: "strict",
      checkThrottleAfter: 5,
      resend: "supersede",
      lookupMisses: 10,
    });
    expect(strict.config.otp).toMatchObject({ maxLifetime: 600, singleUse: true, minPasswordLength: 6 });
    const reuse = parseConfig({ OTP_ASSURANCE: "strict", OTP_RESEND: "reuse", OTP_MAX_LIFETIME: "300" });
    expect(reuse.ok && [reuse.config.guessing.resend, reuse.config.otp.maxLifetime]).toEqual(["reuse", 300]);
  });

  it.each([
    [{ OTP_CHECK_THROTTLE_AFTER: "0" }, "OTP_CHECK_THROTTLE_AFTER: must not be 0 under OTP_ASSURANCE=strict"],
    [{ OTP_LOOKUP_MISSES: "0" }, "OTP_LOOKUP_MISSES: must not be 0 under OTP_ASSURANCE=strict"],
    [{ OTP_MAX_LIFETIME: "601" }, "OTP_MAX_LIFETIME: must be at most 600 under OTP_ASSURANCE=strict, got 601"],
    [{ OTP_SINGLE_USE: "false" }, "OTP_SINGLE_USE: must be true under OTP_ASSURANCE=strict"],
    [{ OTP_TEST_TARGETS: "true" }, "OTP_TEST_TARGETS: must not be true under OTP_ASSURANCE=strict"],
    [{ OTP_RESEND: "new" }, 'OTP_RESEND: must be "supersede" or "reuse" under OTP_ASSURANCE=strict'],
    [{ OTP_CODE_LENGTH: "5" }, "OTP_CODE_LENGTH: must be at least 6 under OTP_ASSURANCE=strict, got 5"],
    [
      { OTP_TELEGRAM_LIFETIME: "900" },
      "OTP_TELEGRAM_LIFETIME: must be at most OTP_MAX_LIFETIME (600) under OTP_ASSURANCE=strict, got 900",
    ],
  ])("under OTP_ASSURANCE=strict, refuses %j at start", (env, message) => {
    expect(errorsOf({ OTP_ASSURANCE: "strict", ...env })).toEqual([message]);
  });

  it.each([
    [{ OTP_ASSURANCE: "nist" }, 'OTP_ASSURANCE: must be "compatible" or "strict"'],
    [{ OTP_RESEND: "again" }, 'OTP_RESEND: must be "new", "supersede" or "reuse"'],
    [{ OTP_CHECK_THROTTLE_AFTER: "-1" }, 'OTP_CHECK_THROTTLE_AFTER: must be an integer from 0 to 1000, got "-1"'],
  ])("rejects the guessing variable %j", (env, message) => {
    expect(errorsOf(env)).toEqual([message]);
  });

  it("reports every bad variable at once", () => {
    expect(errorsOf({ PORT: "x", DUMMY: "x" })).toHaveLength(2);
  });

  it("lists every variable it reads", () => {
    expect(ENV_VARIABLES).toContain("OTP_TELEGRAM_APP_TOKEN");
    expect(ENV_VARIABLES).toContain("PG_REAL_HOST");
    expect(ENV_VARIABLES).not.toContain("PHP_PM_MAX_CHILDREN");
  });
});

describe("how targets are read", () => {
  it("reads OTP_PHONE_CHECK, OTP_DEFAULT_REGION (any case) and OTP_EMAIL_CANONICAL", () => {
    const result = parseConfig({ OTP_PHONE_CHECK: "Possible", OTP_DEFAULT_REGION: "kz", OTP_EMAIL_CANONICAL: "true" });
    if (!result.ok) throw new Error(result.errors.join("; "));
    expect(result.config.targets).toEqual({ phone: { check: "possible", defaultRegion: "KZ" }, emailCanonical: true });
  });

  it("names a bad value", () => {
    expect(errorsOf({ OTP_PHONE_CHECK: "strict" })).toEqual(['OTP_PHONE_CHECK: must be "valid", "possible" or "off"']);
    expect(errorsOf({ OTP_DEFAULT_REGION: "KAZ" })).toEqual([
      'OTP_DEFAULT_REGION: must be an ISO 3166 alpha-2 country code such as KZ, got "KAZ"',
    ]);
    expect(errorsOf({ OTP_DEFAULT_REGION: "XX" })).toEqual([
      'OTP_DEFAULT_REGION: must be an ISO 3166 alpha-2 country code such as KZ, got "XX"',
    ]);
  });
});
