import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../http/env.js";

/**
 * The Swagger UI page is served from the pinned `swagger-ui-dist` package, never from a CDN: no
 * third party can change the script that runs next to the API's credentials, and the page works
 * offline. Its CSP allows scripts and styles from this service only (inline styles: Swagger UI sets
 * style attributes), and connections only back to it (`/openapi.json`, "Try it out").
 */
const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const ASSETS = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
} as const;

// Relative URLs, so that the page also works behind a proxy that serves the API under a path.
const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>OTP service API</title><link rel="stylesheet" href="docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div><script src="docs/swagger-ui-bundle.js"></script><script src="docs/init.js"></script></body>
</html>
`;
const INIT = `window.ui = SwaggerUIBundle({ url: "openapi.json", dom_id: "#swagger-ui" });\n`;

function assetsFolder(): string {
  return dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
}

/** `/openapi.json` (built once, from the registry filled by every `defineRoute`) and `/docs`. */
export function docsRoutes(app: OpenAPIHono<AppEnv>, version: string): void {
  let document: unknown;
  app.openAPIRegistry.registerComponent("securitySchemes", "basic", { type: "http", scheme: "basic" });
  app.get("/openapi.json", (c) => {
    document ??= app.getOpenAPI31Document({
      openapi: "3.1.0",
      info: {
        title: "OTP service",
        version,
        description:
          "One-time passwords by SMS, voice call, email and Telegram; a drop-in replacement for perfumerlabs/otp. " +
          "Every answer is `{status, status_code?, message?, content?}`.",
      },
      security: [{ basic: [] }],
    });
    return c.json(document);
  });

  // An HTML page also gets the headers that only govern a document (docs/security.md, "The HTTP edge").
  const headers = (type: string) => ({
    "Content-Type": type,
    "Content-Security-Policy": DOCS_CSP,
    "Cross-Origin-Opener-Policy": "same-origin",
    "Referrer-Policy": "no-referrer",
  });
  app.get("/docs", (c) => c.body(PAGE, 200, headers("text/html; charset=utf-8")));
  app.get("/docs/init.js", (c) => c.body(INIT, 200, headers(ASSETS["swagger-ui-bundle.js"])));
  const cache = new Map<string, Promise<Buffer>>();
  for (const [file, type] of Object.entries(ASSETS)) {
    app.get(`/docs/${file}`, async (c) => {
      let content = cache.get(file);
      if (!content) {
        content = readFile(join(assetsFolder(), file));
        cache.set(file, content);
      }
      return c.body(new Uint8Array(await content), 200, {
        ...headers(type),
        "Cache-Control": "public, max-age=86400",
      });
    });
  }
}
