import { isPublicAddress } from "../ip.js";
import { literalAddress } from "../public-lookup.js";
import type { Env } from "./env.js";

/** The pre-send hook (docs/policy.md, "The pre-send hook"): undefined when `OTP_PRESEND_HOOK_URL` is unset. */
export interface PresendHookConfig {
  readonly url: string;
  /** `whsec_…`: the Standard Webhooks secret every request is signed with. */
  readonly secret: string;
  readonly timeoutMs: number;
  /** What a timeout, an error or an answer that is neither allow nor deny means. */
  readonly fail: "open" | "closed";
  /** Whether the hook may be plain http and on a loopback, private or link-local address. */
  readonly allowPrivate: boolean;
}

export function presendHookOf(e: Env): PresendHookConfig | undefined {
  if (e.OTP_PRESEND_HOOK_URL === undefined || e.OTP_PRESEND_HOOK_SECRET === undefined) return undefined;
  return {
    url: e.OTP_PRESEND_HOOK_URL,
    secret: e.OTP_PRESEND_HOOK_SECRET,
    timeoutMs: e.OTP_PRESEND_HOOK_TIMEOUT_MS,
    fail: e.OTP_PRESEND_HOOK_FAIL ?? "open",
    allowPrivate: e.OTP_PRESEND_HOOK_ALLOW_PRIVATE,
  };
}

/**
 * The hook sends full phone numbers out of the service: over https only, and never to an address
 * inside the network (a server-side request forgery would otherwise read the numbers, or reach an
 * internal service), unless `OTP_PRESEND_HOOK_ALLOW_PRIVATE=true` says the risk engine is local.
 * Names are checked again when they resolve (the hook's DNS lookup refuses private addresses).
 */
export const PRESEND_HOOK_CHECKS: readonly ((e: Env) => string | undefined)[] = [
  (e) =>
    e.OTP_PRESEND_HOOK_URL !== undefined && e.OTP_PRESEND_HOOK_SECRET === undefined
      ? "OTP_PRESEND_HOOK_SECRET: must be set with OTP_PRESEND_HOOK_URL (a whsec_… secret to sign the requests)"
      : undefined,
  (e) => {
    if (e.OTP_PRESEND_HOOK_URL === undefined || e.OTP_PRESEND_HOOK_ALLOW_PRIVATE) return undefined;
    const url = new URL(e.OTP_PRESEND_HOOK_URL);
    if (url.protocol !== "https:") {
      return "OTP_PRESEND_HOOK_URL: must be https (plain http only with OTP_PRESEND_HOOK_ALLOW_PRIVATE=true)";
    }
    const address = literalAddress(url.hostname);
    return address !== undefined && !isPublicAddress(address)
      ? `OTP_PRESEND_HOOK_URL: ${address} is not a public address (allowed only with OTP_PRESEND_HOOK_ALLOW_PRIVATE=true)`
      : undefined;
  },
];
