import { STRICT_PROFILE } from "../guessing.js";
import type { Env } from "./env.js";
import { PRESEND_HOOK_CHECKS } from "./presend-hook.js";
import { WEBHOOK_CHECKS } from "./webhooks.js";

/**
 * The rules between variables (docs/configuration.md), checked by parseConfig (config.ts) after
 * each variable has been parsed on its own: the strict profile's contradictions, and pairs that
 * only make sense together.
 */

const DEFAULT_MAX_LIFETIME = 86_400;
export const strict = (e: Env) => e.OTP_ASSURANCE === "strict";
const UNDER_STRICT = "under OTP_ASSURANCE=strict";
export const maxLifetimeOf = (e: Env) =>
  e.OTP_MAX_LIFETIME ?? (strict(e) ? STRICT_PROFILE.maxLifetimeSeconds : DEFAULT_MAX_LIFETIME);

/**
 * OTP_ASSURANCE=strict raises the defaults to its profile (configOf); a variable set explicitly to
 * something weaker is a contradiction, refused at start rather than silently overridden.
 */
const STRICT_CHECKS: readonly ((e: Env) => string | undefined)[] = [
  (e) =>
    strict(e) && e.OTP_CHECK_THROTTLE_AFTER === 0
      ? `OTP_CHECK_THROTTLE_AFTER: must not be 0 ${UNDER_STRICT}`
      : undefined,
  (e) => (strict(e) && e.OTP_LOOKUP_MISSES === 0 ? `OTP_LOOKUP_MISSES: must not be 0 ${UNDER_STRICT}` : undefined),
  (e) =>
    strict(e) && e.OTP_MAX_LIFETIME !== undefined && e.OTP_MAX_LIFETIME > STRICT_PROFILE.maxLifetimeSeconds
      ? `OTP_MAX_LIFETIME: must be at most ${STRICT_PROFILE.maxLifetimeSeconds} ${UNDER_STRICT}, got ${e.OTP_MAX_LIFETIME}`
      : undefined,
  // A fixed code exempt from limits is a standing bypass: not under the strict profile.
  (e) => (strict(e) && e.OTP_TEST_TARGETS ? `OTP_TEST_TARGETS: must not be true ${UNDER_STRICT}` : undefined),
  (e) => (strict(e) && e.OTP_SINGLE_USE === false ? `OTP_SINGLE_USE: must be true ${UNDER_STRICT}` : undefined),
  (e) =>
    strict(e) && e.OTP_RESEND === "new" ? `OTP_RESEND: must be "supersede" or "reuse" ${UNDER_STRICT}` : undefined,
  (e) =>
    strict(e) && e.OTP_CODE_LENGTH < STRICT_PROFILE.minCodeLength
      ? `OTP_CODE_LENGTH: must be at least ${STRICT_PROFILE.minCodeLength} ${UNDER_STRICT}, got ${e.OTP_CODE_LENGTH}`
      : undefined,
  (e) =>
    strict(e) && e.OTP_TELEGRAM_CODE_LENGTH < STRICT_PROFILE.minCodeLength
      ? `OTP_TELEGRAM_CODE_LENGTH: must be at least ${STRICT_PROFILE.minCodeLength} ${UNDER_STRICT}, got ${e.OTP_TELEGRAM_CODE_LENGTH}`
      : undefined,
  (e) => {
    const max = maxLifetimeOf(e);
    return strict(e) && e.OTP_TELEGRAM_LIFETIME > max
      ? `OTP_TELEGRAM_LIFETIME: must be at most OTP_MAX_LIFETIME (${max}) ${UNDER_STRICT}, got ${e.OTP_TELEGRAM_LIFETIME}`
      : undefined;
  },
];

/**
 * Rules between variables, each naming the variable at fault; one line per broken rule. A variable
 * that is wrong on its own is caught by its parser in env.ts before these run.
 */
export const CROSS_CHECKS: readonly ((e: Env) => string | undefined)[] = [
  (e) => {
    if ((e.HTTP_AUTH_USERNAME === undefined) === (e.HTTP_AUTH_PASSWORD === undefined)) return undefined;
    const [missing, other] =
      e.HTTP_AUTH_USERNAME === undefined
        ? ["HTTP_AUTH_USERNAME", "HTTP_AUTH_PASSWORD"]
        : ["HTTP_AUTH_PASSWORD", "HTTP_AUTH_USERNAME"];
    return `${missing}: must be set together with ${other}`;
  },
  (e) =>
    e.HTTP_HEADERS_TIMEOUT > e.HTTP_REQUEST_TIMEOUT
      ? "HTTP_HEADERS_TIMEOUT: must not be longer than HTTP_REQUEST_TIMEOUT (the headers are part of the request)"
      : undefined,
  ...STRICT_CHECKS,
  ...PRESEND_HOOK_CHECKS,
  ...WEBHOOK_CHECKS,
];
