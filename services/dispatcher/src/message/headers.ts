/** AMQP headers the dispatcher sets on the copies it publishes (retries and dead letters). */
export const H = {
  /** The attempt the message is for, 1-based; absent on the API's original publish (= 1). */
  attempt: "x-otp-attempt",
  /** The error of the previous attempt (short, never the code or a text). */
  lastError: "x-otp-last-error",
  /** Why it was dead-lettered: malformed, unsupported_version, otp_not_found, unsealable, rejected, exhausted, poison. */
  deadReason: "x-otp-dead-reason",
  deadAt: "x-otp-dead-at",
  /** Attempts made when it was dead-lettered. */
  attempts: "x-otp-attempts",
  channel: "x-otp-channel",
  otpId: "x-otp-otp-id",
  /**
   * On a webhook put back untried (its subscription's slots taken): how many times in a row it
   * has been, which sets its next wait. Not carried past its next attempt, as no `x-otp-*` header is.
   */
  deferrals: "x-otp-deferrals",
} as const;

/** Headers RabbitMQ itself writes when it dead-letters; they describe another journey, not the copy's. */
const BROKER_HEADERS = /^x-(death|first-death-|last-death-|delivery-count)/;

export type Headers = Record<string, unknown>;

/** The original's headers without the broker's bookkeeping and our own per-hop ones. */
export function carriedHeaders(headers: Headers | undefined): Headers {
  const out: Headers = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (BROKER_HEADERS.test(k) || k.startsWith("x-otp-")) continue;
    out[k] = v;
  }
  return out;
}

/** The attempt number a message carries (1 when absent or unreadable). */
export function attemptOf(headers: Headers | undefined): number {
  const raw = headers?.[H.attempt];
  const n = typeof raw === "number" ? raw : Number(raw);
  return Number.isInteger(n) && n >= 1 ? n : 1;
}

/** The deferrals in a row a webhook carries (0 when absent or unreadable). */
export function deferralsOf(headers: Headers | undefined): number {
  const raw = headers?.[H.deferrals];
  const n = typeof raw === "number" ? raw : Number(raw);
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

/**
 * How many times RabbitMQ handed this message out before without it being acked (a consumer
 * crashed, its channel closed, or it was nacked): the quorum queue's `x-delivery-count`, 0 on the
 * first delivery.
 */
export function deliveryCountOf(headers: Headers | undefined): number {
  const n = Number(headers?.["x-delivery-count"] ?? 0);
  return Number.isInteger(n) && n >= 0 ? n : 0;
}
