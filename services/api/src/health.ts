import type { HealthContent } from "@otp/contracts";

/**
 * `/health`'s answer, probed at most once per `maxAgeMs`: the endpoint needs no credentials, so
 * without this a flood of probes would be a flood of database queries. Concurrent callers of a
 * stale answer share one probe.
 */
export function cachedHealth(
  probe: () => Promise<HealthContent>,
  maxAgeMs = 1_000,
  now: () => number = Date.now,
): () => Promise<HealthContent> {
  let last: { readonly at: number; readonly value: HealthContent } | undefined;
  let probing: Promise<HealthContent> | undefined;
  return () => {
    if (last && now() - last.at < maxAgeMs) return Promise.resolve(last.value);
    probing ??= probe()
      .then((value) => {
        last = { at: now(), value };
        return value;
      })
      .finally(() => {
        probing = undefined;
      });
    return probing;
  };
}
