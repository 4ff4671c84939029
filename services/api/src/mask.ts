/**
 * Targets as they appear in logs (docs/security.md, "Logs"): enough to tell two users apart while debugging, not
 * enough to contact them. `77011234567` → `7701*****67`, `foobar@example.com` → `f***@example.com`.
 */
export function maskTarget(target: string): string {
  const at = target.lastIndexOf("@");
  if (at >= 0) return `${target.slice(0, Math.min(1, at))}***${target.slice(at)}`;
  if (target.length >= 8) return `${target.slice(0, 4)}${"*".repeat(target.length - 6)}${target.slice(-2)}`;
  if (target.length >= 3) return `${target.slice(0, 1)}${"*".repeat(target.length - 2)}${target.slice(-1)}`;
  return "*".repeat(target.length);
}
