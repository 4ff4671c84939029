import { DEFAULT_PHONE_RULES, phoneReader } from "@otp/contracts";

/**
 * Phone numbers for the pumping simulation: random mobile numbers of several countries, each one
 * valid for libphonenumber's `max` metadata (what the API accepts by default), and the attack's
 * sequential numbers in one prefix.
 */

const read = phoneReader(DEFAULT_PHONE_RULES);

/** Mobile ranges per country (E.164 digits) and how many digits follow; every drawn number is checked. */
const RANGES: Readonly<Record<string, { prefixes: readonly string[]; rest: number }>> = {
  KZ: { prefixes: ["7700", "7701", "7702", "7705", "7707", "7747", "7771", "7775", "7776", "7777", "7778"], rest: 7 },
  UZ: { prefixes: ["99890", "99891", "99893", "99894", "99897", "99899"], rest: 7 },
  RU: { prefixes: ["7903", "7905", "7909", "7916", "7926", "7977", "7985", "7999"], rest: 7 },
  DE: { prefixes: ["49151", "49152", "49160", "49162", "49170", "49172", "49176"], rest: 8 },
  GB: { prefixes: ["4474", "4475", "4477", "4478", "4479"], rest: 8 },
  TR: { prefixes: ["90530", "90532", "90535", "90541", "90542", "90555"], rest: 7 },
  US: { prefixes: ["1201", "1202", "1212", "1305", "1415", "1512", "1617", "1718"], rest: 7 },
};

export const COUNTRIES = Object.keys(RANGES);

/** A small deterministic random source, so that a run can be repeated (mulberry32). */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const digits = (rnd: () => number, n: number) => Array.from({ length: n }, () => Math.floor(rnd() * 10)).join("");

/** A valid mobile number of `country`, drawn until the numbering plan says valid. */
export function randomNumber(rnd: () => number, country: string): string {
  const range = RANGES[country];
  if (!range) throw new Error(`no ranges for ${country}`);
  for (let attempt = 0; attempt < 1000; attempt++) {
    const prefix = range.prefixes[Math.floor(rnd() * range.prefixes.length)] ?? "";
    const reading = read(`+${prefix}${digits(rnd, range.rest)}`);
    if (reading.ok) return reading.phone;
  }
  throw new Error(`no valid ${country} number drawn`);
}

/** The attack's numbers: `prefix` followed by a counter, the valid ones only, one after the other. */
export function* sequential(prefix: string, length: number): Generator<string> {
  const width = length - prefix.length;
  for (let n = 0; n < 10 ** width; n++) {
    const reading = read(`+${prefix}${String(n).padStart(width, "0")}`);
    if (reading.ok) yield reading.phone;
  }
}
