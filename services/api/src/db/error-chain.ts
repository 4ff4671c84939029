/** The fields node-postgres and Node put on errors that tell one failure from another. */
export interface ErrorFields {
  readonly code?: unknown;
  readonly message?: unknown;
}

/** Wrappers (drizzle, our own) nest the driver's error a few levels deep at most; deeper is a loop. */
const MAX_DEPTH = 3;

/**
 * Whether `test` holds for `error` or for an error it wraps: its `cause`, or one of `errors` (Node
 * reports a refused connection to a name with several addresses as an AggregateError). The depth
 * is limited so that a cause cycle cannot loop.
 */
export function someInErrorChain(error: unknown, test: (error: ErrorFields) => boolean, depth = 0): boolean {
  if (depth > MAX_DEPTH || typeof error !== "object" || error === null) return false;
  if (test(error as ErrorFields)) return true;
  const { errors, cause } = error as { errors?: unknown; cause?: unknown };
  if (Array.isArray(errors) && errors.some((e) => someInErrorChain(e, test, depth + 1))) return true;
  return cause !== undefined && someInErrorChain(cause, test, depth + 1);
}
