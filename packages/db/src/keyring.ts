import { deriveKeyring, type Keyring, type PgConfig } from "@otp/contracts";
import type pg from "pg";
import { createDb } from "./pool.js";
import { type RetryOptions, retryWhileUnreachable } from "./retry.js";
import { loadMasterSecret } from "./secret.js";

/**
 * The keys of both services, loaded the same way by each: `OTP_SECRET` when set, else the secret
 * generated and stored in the database by whichever process asked first (retried while PostgreSQL
 * is unreachable, like the migrations before it). The warning has one wording in both services.
 */
export async function loadKeyring(
  pool: pg.Pool,
  pg: Pick<PgConfig, "schema">,
  configured: string | undefined,
  options: RetryOptions,
): Promise<Keyring> {
  const secret = await retryWhileUnreachable(
    "load the master secret",
    () => loadMasterSecret(createDb(pool, pg.schema), configured),
    options,
  );
  if (secret.stored) {
    options.log.warn(
      {},
      "OTP_SECRET is not set: using a secret generated and stored in the database; set OTP_SECRET in production",
    );
  }
  return deriveKeyring(secret.value);
}
