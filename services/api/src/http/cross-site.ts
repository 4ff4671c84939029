import type { MiddlewareHandler } from "hono";
import { ApiError } from "../api-error.js";
import type { AppEnv } from "./env.js";
import { requestHeader } from "./headers.js";

/**
 * Refuses, with 403 `forbidden` on every route, what a browser sends on behalf of another site
 * (docs/security.md, "The HTTP edge"): a request marked `Sec-Fetch-Site: cross-site`, or one
 * whose `Origin` is neither the service's own host nor one of `OTP_ALLOWED_ORIGINS`. Backends send
 * neither header, so server-to-server calls are untouched; without this a web page could send SMS
 * or change limits from a visitor's browser, whose requests need no preflight when their body is
 * `text/plain` or a form.
 */
export function refuseCrossSite(allowedOrigins: readonly string[]): MiddlewareHandler<AppEnv> {
  const allowed = new Set(allowedOrigins);
  return async (c, next) => {
    if (requestHeader(c, "sec-fetch-site")?.toLowerCase() === "cross-site") {
      throw new ApiError("forbidden", "Cross-site requests are refused");
    }
    const origin = requestHeader(c, "origin");
    if (origin !== undefined && !isOwnOrAllowed(origin, c.req.url, allowed)) {
      throw new ApiError("forbidden", "Requests from this origin are refused (see OTP_ALLOWED_ORIGINS)");
    }
    return next();
  };
}

function isOwnOrAllowed(origin: string, requestUrl: string, allowed: ReadonlySet<string>): boolean {
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false; // `null` (sandboxed frames, file://) and garbage
  }
  // The host alone: behind a TLS-terminating proxy the page is https while the request here is http.
  return parsed.host === new URL(requestUrl).host || allowed.has(parsed.origin);
}

/** Whether a browser sent the request: the headers only browsers add (Fetch metadata, Origin). */
export function fromBrowser(header: (name: string) => string | undefined): boolean {
  return (
    header("origin") !== undefined || header("sec-fetch-site") !== undefined || header("sec-fetch-mode") !== undefined
  );
}
