import { randomUUID } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "./env.js";

/**
 * The headers on every answer (docs/security.md, "The HTTP edge"): the ones OWASP's REST Security
 * Cheat Sheet asks of every API response. The API answers JSON, so a browser is told to store it
 * nowhere, load nothing with it, frame it nowhere, guess no type, and hand it to no other origin.
 * Headers that only govern an HTML document (COOP, Referrer-Policy, X-XSS-Protection …) are left
 * to `/docs`, the one page: on JSON they protect nothing, and every client parses every header
 * of every answer.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "cache-control": "no-store",
  "content-security-policy": "default-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  "cross-origin-resource-policy": "same-origin",
  "strict-transport-security": "max-age=31536000; includeSubDomains",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
};
const SECURITY_ENTRIES = Object.entries(SECURITY_HEADERS);

const REQUEST_ID_HEADER = "x-request-id";
const MAX_REQUEST_ID = 255;
const REQUEST_ID_CHARS = /^[\w\-=]+$/;

/**
 * A request header. Served on a port, read from Node's own parsed headers: asking the fetch
 * `Request` for one makes @hono/node-server build a whole `Headers` object for the request, which
 * the profile of a check showed among its larger costs. Under `app.request()` (tests), the Request's.
 * `name` is lower case. (Node keeps the first of a repeated `Content-Type`, where `Headers` joins them.)
 */
export function requestHeader(c: Context<AppEnv>, name: string): string | undefined {
  const incoming = c.env?.incoming;
  if (!incoming) return c.req.header(name);
  const value = incoming.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

/**
 * The request id (the caller's `X-Request-Id` when it is up to 255 word characters, `-` or `=`,
 * else a new UUID; every log line of the request carries it) and the headers of every answer.
 *
 * Served on a port, both are set on Node's response before the route runs: @hono/node-server writes
 * an answer built by `c.json()` straight from its status, body and content type, and setting a
 * header on `c.res` afterwards (what Hono's `secureHeaders` and `requestId` do) first turns it into
 * a full `Response` with a `Headers` object, then converts that back — per request, the largest
 * cost of the HTTP edge in the check's profile (docs/performance.md). Node merges these with the
 * headers of the route's answer, the route's winning: `/docs` keeps its own Content-Security-Policy.
 * Under `app.request()` there is no Node response, and they are set on `c.res` without overwriting.
 */
export function responseHeaders(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const given = requestHeader(c, REQUEST_ID_HEADER);
    const id =
      given !== undefined && given.length <= MAX_REQUEST_ID && REQUEST_ID_CHARS.test(given) ? given : randomUUID();
    c.set("requestId", id);
    const outgoing = c.env?.outgoing;
    if (outgoing && !outgoing.headersSent) {
      for (const [name, value] of SECURITY_ENTRIES) outgoing.setHeader(name, value);
      outgoing.setHeader(REQUEST_ID_HEADER, id);
      return next();
    }
    await next();
    for (const [name, value] of [...SECURITY_ENTRIES, [REQUEST_ID_HEADER, id] as const]) {
      if (!c.res.headers.has(name)) c.res.headers.set(name, value);
    }
  };
}
