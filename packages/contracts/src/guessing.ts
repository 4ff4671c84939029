/**
 * The fixed numbers of the protections against guessing (docs/security.md, "Guessing"); the
 * settings that vary are variables (OTP_ASSURANCE, OTP_CHECK_THROTTLE_AFTER, OTP_RESEND,
 * OTP_LOOKUP_MISSES).
 */

export const ASSURANCE_LEVELS = ["compatible", "strict"] as const;
export type Assurance = (typeof ASSURANCE_LEVELS)[number];

/** What a new code does to the target's older live codes of its channel. */
export const RESEND_MODES = ["new", "supersede", "reuse"] as const;
export type ResendMode = (typeof RESEND_MODES)[number];

/** The per-target failure budget of checks. */
export const CHECK_THROTTLE = {
  /** The first delay, once the budget is spent; each further wrong check after a delay doubles it. */
  firstDelaySeconds: 30,
  maxDelaySeconds: 3600,
  /** With `ip`, the target's budget is this many times an address's, and an address counts toward it only up to its own. */
  ipShare: 4,
  /** A counter is forgotten this long after its last failure, delay and code, whichever ends last. */
  memorySeconds: 3600,
} as const;

/** `GET /target` and `GET /password`: misses are counted over this window. */
export const LOOKUP_WINDOW_SECONDS = 60;
/** With `ip`, an address may use this share of its channel's misses (OTP_LOOKUP_MISSES / 4, rounded up). */
export const LOOKUP_IP_SHARE = 4;

/** OTP_RESEND=reuse re-sends the live code only while it has more than this left to live. */
export const REUSE_MIN_LEFT_SECONDS = 60;

/** How many codes are drawn before giving up on a unique one (each collision is one round trip). */
export const MAX_CODE_DRAWS = 10;

/** OTP_ASSURANCE=strict: NIST SP 800-63B-4 §3.1.3.2 and OWASP ASVS 5.0 V6.5.4, V6.5.5. */
export const STRICT_PROFILE = {
  maxLifetimeSeconds: 600,
  minPasswordLength: 6,
  minCodeLength: 6,
} as const;
