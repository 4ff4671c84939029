/**
 * Tells "the database is not there" apart from every other failure, so that an outage answers 503
 * `unavailable` (clients retry later) rather than 500 `internal` (a bug). node-postgres reports
 * outages through socket error codes, SQLSTATE classes 08 (connection exception), 53
 * (insufficient resources: disk full, out of memory, too many connections) and 57P (operator
 * intervention: shutdown, crash recovery), 57014 (a statement cancelled, e.g. by a
 * `statement_timeout` the database's operator set), 40001 and 40P01 (a transaction PostgreSQL
 * rolled back to break a deadlock or a serialization conflict: nothing of it was kept, and the
 * same request sent again succeeds), and a few plain messages.
 */

import { someInErrorChain } from "./error-chain.js";

const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, recovering)
  "57014", // query_canceled
  "40001", // serialization_failure
  "40P01", // deadlock_detected
]);

const UNAVAILABLE_MESSAGES =
  /timeout exceeded when trying to connect|connection terminated|not queryable|terminating connection|connection timeout|pool after calling end/i;

export function isDatabaseUnavailable(error: unknown): boolean {
  return someInErrorChain(
    error,
    ({ code, message }) =>
      (typeof code === "string" && (UNAVAILABLE_CODES.has(code) || code.startsWith("08") || code.startsWith("53"))) ||
      (typeof message === "string" && UNAVAILABLE_MESSAGES.test(message)),
  );
}
