import { uuidv7 } from "uuidv7";

/**
 * A new OTP or outbox event id: a UUIDv7 (RFC 9562), whose first 48 bits are the Unix time in
 * milliseconds and which the `uuidv7` package keeps increasing within a millisecond. Consecutive
 * creates then insert next to each other in the primary keys of `otp` and `outbox` instead of on
 * a random page of each (docs/performance.md, "Time-ordered ids"). Clients see a UUID like any
 * other: `GET /otp/{id}` accepts any version.
 */
export function newId(): string {
  return uuidv7();
}
