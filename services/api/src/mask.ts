/**
 * Targets as they appear in logs and webhooks (docs/security.md, "Logs"): enough to tell two users
 * apart while debugging, not enough to contact them. `77011234567` → `7701*****67`,
 * `foobar@example.com` → `f***@example.com`. A phone or chat id keeps at most its first four and
 * last two characters and always hides at least {@link HIDDEN_AT_LEAST} (an 8-digit chat id:
 * `1*****78`). The database's `otp_mask_target` (migration 0015) is the same function.
 */
export function maskTarget(target: string): string {
  const at = target.lastIndexOf("@");
  if (at >= 0) return `${target.slice(0, Math.min(1, at))}***${target.slice(at)}`;
  const hidden = Math.min(target.length, Math.max(HIDDEN_AT_LEAST, target.length - 6));
  const shown = target.length - hidden;
  const last = shown >= 3 ? 2 : shown === 2 ? 1 : 0;
  return `${target.slice(0, shown - last)}${"*".repeat(hidden)}${target.slice(target.length - last)}`;
}

/** Characters of a phone or chat id a mask always hides: 10^5 candidates at least. */
const HIDDEN_AT_LEAST = 5;
