import { fixedFieldLogger, type Logger } from "@otp/contracts";
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { Metrics } from "../metrics.js";
import type { AppEnv } from "./env.js";

const UNMATCHED = "unmatched";

/** The route pattern that answered (`/otp/:id`), or `unmatched`: bounded label values for metrics. */
function routeLabel(c: Context<AppEnv>): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const route = routes[i];
    if (route && route.method !== "ALL") return route.path;
  }
  return UNMATCHED;
}

/**
 * `/test-targets/sms/7701…` → `/test-targets/…`; `/smss` stays. A first segment that is not a word
 * of letters, dots and hyphens — digits, an `@`, an encoded `/` — could itself be a target: `/…`.
 */
function firstSegment(path: string): string {
  const end = path.indexOf("/", 1);
  const first = end === -1 ? path : path.slice(0, end);
  if (first === "/") return first;
  if (!/^\/[a-z][a-z.-]*$/i.test(first)) return "/…";
  return end === -1 ? first : `${first}/…`;
}

/**
 * One log line and the HTTP metrics per request. The line has the request id, the route, the
 * status, the time and the masked target; never the query string or the body, which carry codes,
 * nor a path: a route's path can hold a full target (`DELETE /test-targets/{channel}/{target}`),
 * its pattern cannot. A request no route answered (a 404, a 405 on such a path) logs its path's
 * first segment only, `/test-targets/…`: enough to tell a mistyped route, nothing of a target.
 */
export function observe(logger: Logger, metrics: Metrics): MiddlewareHandler<AppEnv> {
  const lines = fixedFieldLogger(logger);
  return async (c, next) => {
    const started = performance.now();
    await next();
    const seconds = (performance.now() - started) / 1000;
    const route = routeLabel(c);
    const method = c.req.method;
    const status = c.res.status;
    metrics.httpRequests.inc({ route, method, status: String(status) });
    metrics.httpDuration.observe({ route, method }, seconds);
    lines.info(
      {
        reqId: c.get("requestId"),
        method,
        ...(route === UNMATCHED ? { path: firstSegment(c.req.path) } : {}),
        route,
        status,
        ms: Math.round(seconds * 10_000) / 10,
        target: c.get("target"),
      },
      "request",
    );
  };
}
