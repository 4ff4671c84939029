import type { PgConfig } from "@otp/contracts";

export interface ServiceEnvOptions {
  /** The database the service under test uses (useTestDatabase(), createTestDatabase(...).config). */
  readonly pg: PgConfig;
  /** The broker and the name prefix of the service's queues and exchanges (useTestBroker()). */
  readonly broker: { readonly url: string; readonly prefix: string };
  /** OTP_SECRET; without it the API generates one and stores it in the database. */
  readonly secret?: string;
}

/**
 * The environment variables that make a service process (API, dispatcher, dlq CLI) use a test's
 * database and broker names, as its configuration parser reads them; `overrides` come last, and an
 * override whose value is undefined removes that variable.
 */
export function serviceEnv(
  options: ServiceEnvOptions,
  overrides: Readonly<Record<string, string | undefined>> = {},
): Record<string, string> {
  const { pg, broker, secret } = options;
  const env: Record<string, string | undefined> = {
    PG_HOST: pg.host,
    PG_REAL_HOST: pg.realHost,
    PG_PORT: String(pg.port),
    PG_DATABASE: pg.database,
    PG_SCHEMA: pg.schema,
    PG_USER: pg.user,
    PG_PASSWORD: pg.password,
    PG_POOL_MAX: String(pg.poolMax),
    PG_QUERY_TIMEOUT: String(pg.queryTimeoutMs / 1000),
    RABBITMQ_URL: broker.url,
    RABBITMQ_PREFIX: broker.prefix,
    OTP_SECRET: secret,
    ...overrides,
  };
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}
