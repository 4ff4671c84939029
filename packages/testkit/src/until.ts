export interface UntilOptions {
  /** How long to keep trying. Default 10 s. */
  readonly timeoutMs?: number;
  /** The pause between two probes. Default 50 ms. */
  readonly intervalMs?: number;
  /** What is awaited, for the timeout error: "timed out after 10000 ms waiting for <what>". */
  readonly what?: string;
  /** Ends the wait early: `until` rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/**
 * Probes until `probe` returns true, and rejects when `timeoutMs` passes first. A probe that throws
 * counts as "not yet" (a server still starting refuses connections); the last error it threw is the
 * timeout error's `cause` and is quoted in its message. For hooks, helpers and scripts, where
 * vitest's `expect.poll` is not available; inside a test, prefer `expect.poll`.
 */
export async function until(
  probe: () => boolean | Promise<boolean>,
  { timeoutMs = 10_000, intervalMs = 50, what = "the condition", signal }: UntilOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    signal?.throwIfAborted();
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const reason = lastError === undefined ? "" : ` (last probe threw: ${String(lastError)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${reason}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
