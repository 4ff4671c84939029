import { z } from "zod";
import { isPhoneRegion } from "../phone.js";
import { DISPATCH_ROUTES, type DispatchRoute } from "../routes.js";

/** The parsers of environment variables: each reads a string and names the problem in its message. */

export const str = (fallback: string) => z.string().trim().default(fallback);
export const optionalStr = () =>
  z
    .string()
    .trim()
    .optional()
    .transform((v) => (v === "" ? undefined : v));

export function int(fallback: number, min: number, max: number) {
  return z
    .string()
    .trim()
    .default(String(fallback))
    .transform((v, ctx) => {
      const n = Number(v);
      if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `must be an integer from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });
}

/** An integer that may be left unset (`undefined`): its default depends on other variables. */
export function optionalInt(min: number, max: number) {
  return optionalStr().transform((v, ctx) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: "custom", message: `must be an integer from ${min} to ${max}, got "${v}"` });
      return z.NEVER;
    }
    return n;
  });
}

/** Seconds, possibly fractional (`OTP_DELIVERY_TIMEOUT=2.5`), returned as milliseconds. */
export function secondsAsMs(fallback: number, min: number, max: number) {
  return z
    .string()
    .trim()
    .default(String(fallback))
    .transform((v, ctx) => {
      const n = Number(v);
      if (v === "" || !Number.isFinite(n) || n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `must be a number of seconds from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return Math.round(n * 1000);
    });
}

/** Whole seconds like `OTP_MAX_LIFETIME`, where `0` or `off` turns the feature off (read as 0). */
export function secondsOrOff(fallback: number, max: number) {
  return z
    .string()
    .trim()
    .default(String(fallback))
    .transform((v, ctx) => {
      if (v.toLowerCase() === "off") return 0;
      const n = Number(v);
      if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n > max) {
        ctx.addIssue({ code: "custom", message: `must be a number of seconds from 0 to ${max}, or off, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });
}

export function bool(fallback: boolean) {
  return z
    .string()
    .trim()
    .default(String(fallback))
    .transform((v, ctx) => {
      const s = v.toLowerCase();
      if (["true", "1", "yes", "on"].includes(s)) return true;
      if (["false", "0", "no", "off", ""].includes(s)) return false;
      ctx.addIssue({ code: "custom", message: `must be true or false, got "${v}"` });
      return z.NEVER;
    });
}

/** A boolean that may be left unset (`undefined`): its default depends on other variables. */
export function optionalBool() {
  return optionalStr().transform((v, ctx) => {
    if (v === undefined) return undefined;
    const s = v.toLowerCase();
    if (["true", "1", "yes", "on"].includes(s)) return true;
    if (["false", "0", "no", "off"].includes(s)) return false;
    ctx.addIssue({ code: "custom", message: `must be true or false, got "${v}"` });
    return z.NEVER;
  });
}

/** One of `values`, case-insensitive; unset is `undefined` (`fallback` when given). */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  const quoted = values.map((v) => `"${v}"`);
  const list = quoted.length === 2 ? quoted.join(" or ") : `${quoted.slice(0, -1).join(", ")} or ${quoted.at(-1)}`;
  return optionalStr().transform((v, ctx) => {
    if (v === undefined) return undefined;
    const s = v.toLowerCase();
    if ((values as readonly string[]).includes(s)) return s as T[number];
    ctx.addIssue({ code: "custom", message: `must be ${list}` });
    return z.NEVER;
  });
}

/**
 * An http(s) URL of a provider or hook. The value is never repeated in the message: it may hold a
 * password, and a start-up error goes to the log (docs/security.md, "Logs"). (An `@` in the path
 * or query is a valid URL — `?notify=ops@example.com` — so it cannot be told from a password's raw
 * `/` that moved the rest of the password into the path: the docs ask for percent-encoding.)
 */
export function url(fallback: string) {
  return z
    .string()
    .trim()
    .default(fallback)
    .transform((v, ctx) => {
      const problem = urlProblem(v);
      if (problem === undefined) return v.replace(/\/+$/, "");
      ctx.addIssue({ code: "custom", message: problem });
      return z.NEVER;
    });
}

function urlProblem(value: string): string | undefined {
  const encode = "percent-encode a password's /, ?, # and @";
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return `must be an http(s) URL, and is not a URL (the value is not shown; ${encode})`;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return `must be an http(s) URL, got scheme "${u.protocol}"`;
  return undefined;
}

/**
 * DISPATCHER_CHANNELS: the work queues a dispatcher consumes, comma-separated: OTP channels and
 * `webhook` (docs/delivery.md, "Queues"). Every one of them by default.
 */
export const channelList = z
  .string()
  .trim()
  .default(DISPATCH_ROUTES.join(","))
  .transform((v, ctx) => {
    const names = v
      .split(/[\s,]+/)
      .map((s) => s.toLowerCase())
      .filter(Boolean);
    const unknown = names.filter((n) => !(DISPATCH_ROUTES as readonly string[]).includes(n));
    if (names.length === 0 || unknown.length > 0) {
      ctx.addIssue({
        code: "custom",
        message: `must be a comma-separated subset of ${DISPATCH_ROUTES.join(",")}, got "${v}"`,
      });
      return z.NEVER;
    }
    return [...new Set(names)] as DispatchRoute[];
  });

/**
 * Web origins (`https://app.example.com`), comma-separated; each is reduced to its canonical
 * `scheme://host[:port]` so that a trailing slash or upper case in the variable cannot miss a match.
 */
export const originList = z
  .string()
  .trim()
  .default("")
  .transform((v, ctx) => {
    const origins: string[] = [];
    for (const item of v.split(/[\s,]+/).filter(Boolean)) {
      let origin: string | undefined;
      try {
        const u = new URL(item);
        if (u.protocol === "http:" || u.protocol === "https:") origin = u.origin;
      } catch {}
      if (origin === undefined) {
        ctx.addIssue({ code: "custom", message: `must be comma-separated http(s) origins, got "${item}"` });
        return z.NEVER;
      }
      origins.push(origin);
    }
    return origins;
  });

/** An ISO 3166 alpha-2 country the numbering plans know (`OTP_DEFAULT_REGION=KZ`), upper-cased; unset by default. */
export const phoneRegion = optionalStr().transform((v, ctx) => {
  if (v === undefined) return undefined;
  const region = v.toUpperCase();
  if (!isPhoneRegion(region)) {
    ctx.addIssue({ code: "custom", message: `must be an ISO 3166 alpha-2 country code such as KZ, got "${v}"` });
    return z.NEVER;
  }
  return region;
});
