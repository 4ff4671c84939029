import { LIFECYCLE_EVENT_TYPES } from "../lifecycle.js";
import { WEBHOOK_EVENT_PATTERNS, webhookUrlProblem } from "../webhooks.js";
import type { Env } from "./env.js";

/** The lifecycle webhooks' settings (docs/lifecycle.md, "Webhook subscriptions"). */
export interface WebhooksConfig {
  /** `OTP_WEBHOOK_ALLOW_PRIVATE`: subscriptions may point at loopback, private and link-local addresses. */
  readonly allowPrivate: boolean;
  /** The subscription `OTP_WEBHOOK_URL` configures without the API; undefined when unset. */
  readonly env: { readonly url: string; readonly secret: string; readonly events: readonly string[] } | undefined;
}

/** `OTP_WEBHOOK_EVENTS`: a comma-separated list, `otp.*` when unset. */
const eventsOf = (e: Env) =>
  e.OTP_WEBHOOK_EVENTS === undefined
    ? ["otp.*"]
    : [
        ...new Set(
          e.OTP_WEBHOOK_EVENTS.split(",")
            .map((s) => s.trim())
            .filter((s) => s !== ""),
        ),
      ];

export function webhooksOf(e: Env): WebhooksConfig {
  const { OTP_WEBHOOK_URL: url, OTP_WEBHOOK_SECRET: secret } = e;
  return {
    allowPrivate: e.OTP_WEBHOOK_ALLOW_PRIVATE,
    env: url !== undefined && secret !== undefined ? { url, secret, events: eventsOf(e) } : undefined,
  };
}

/** The rules between the webhook variables, each naming the variable at fault. */
export const WEBHOOK_CHECKS: readonly ((e: Env) => string | undefined)[] = [
  (e) =>
    (e.OTP_WEBHOOK_URL === undefined) !== (e.OTP_WEBHOOK_SECRET === undefined)
      ? e.OTP_WEBHOOK_URL === undefined
        ? "OTP_WEBHOOK_URL: must be set with OTP_WEBHOOK_SECRET"
        : "OTP_WEBHOOK_SECRET: must be set with OTP_WEBHOOK_URL (a whsec_… secret to sign the events)"
      : undefined,
  (e) => {
    if (e.OTP_WEBHOOK_URL === undefined) return undefined;
    const problem = webhookUrlProblem(e.OTP_WEBHOOK_URL, e.OTP_WEBHOOK_ALLOW_PRIVATE);
    return problem && `OTP_WEBHOOK_URL: ${problem} (private addresses only with OTP_WEBHOOK_ALLOW_PRIVATE=true)`;
  },
  (e) => {
    const known: readonly string[] = WEBHOOK_EVENT_PATTERNS;
    const unknown = eventsOf(e).filter((t) => !known.includes(t));
    if (unknown.length === 0 && eventsOf(e).length > 0) return undefined;
    return `OTP_WEBHOOK_EVENTS: must be otp.* or a comma-separated list of ${LIFECYCLE_EVENT_TYPES.join(", ")}`;
  },
];
