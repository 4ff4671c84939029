/**
 * Request bodies for the alternating comparisons (docs/performance.md): each create for a phone of
 * its own, checks for phones whose codes were seeded (seed/live-codes.ts) — at random among a few
 * (repeated right checks), or each phone once in turn (first right checks, wrong checks).
 */

/** The create body the HTTP phase sends too: code 12345 for an hour. */
export function createBody(phone: number): string {
  return JSON.stringify({
    ip: "123.123.123.123",
    phone: String(phone),
    password: "12345",
    lifetime: 3600,
    message: "Your OTP is 12345",
  });
}

export function checkBody(phone: number, password: string): string {
  return JSON.stringify({ phone: String(phone), password });
}

/** Phones `base + 1`, `base + 2` … one per call; `used` says how many were given. */
export class PhoneSequence {
  used = 0;
  readonly #base: number;

  constructor(base: number) {
    this.#base = base;
  }

  next(): number {
    return this.#base + ++this.used;
  }
}

/** A phone at random among `base + 1` … `base + count`. */
export const randomPhone = (base: number, count: number) => base + 1 + Math.floor(Math.random() * count);
