import type { MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";

/**
 * Headers on every answer (docs/security.md): the API answers JSON, so a browser is told to load
 * nothing with it, frame it nowhere, guess no type and send no referrer. A route that serves a page
 * (`/docs`) sets its own Content-Security-Policy, which is kept (`overwrite: false`).
 */
export function securityHeaders(): MiddlewareHandler {
  return secureHeaders({
    overwrite: false,
    contentSecurityPolicy: { defaultSrc: ["'none'"], baseUri: ["'none'"], frameAncestors: ["'none'"] },
    xFrameOptions: "DENY",
    referrerPolicy: "no-referrer",
    crossOriginResourcePolicy: "same-origin",
    xContentTypeOptions: true,
    strictTransportSecurity: "max-age=31536000; includeSubDomains",
  });
}
