import type { OpenAPIHono } from "@hono/zod-openapi";
import { STATS_MAX_GROUPS, STATS_MAX_SPAN_DAYS, StatsRequest, StatsResponse } from "@otp/contracts";
import { ApiError } from "../api-error.js";
import { readStats, STATS_STATEMENT_TIMEOUT_MS } from "../domain/stats.js";
import type { AppEnv } from "../http/env.js";
import { ok } from "../http/envelope.js";
import { defineRouteWithParams, errors, json } from "../http/route.js";
import type { RouteContext } from "./context.js";

/**
 * Statistics statements one API process runs at once. Each may scan days of rows on the pool that
 * creates and checks share: more at once would take their connections (docs/statistics.md, "Cost").
 */
export const STATS_AT_ONCE = 2;

/** `GET /stats` (docs/statistics.md): conversion figures per channel, country or prefix. */
export function statsRoutes(app: OpenAPIHono<AppEnv>, { domain, deps }: RouteContext): void {
  let running = 0;
  // PostgreSQL must stop the statement before the pool gives up on it (PG_QUERY_TIMEOUT), or the
  // statement would run on with its slot already given back.
  const limits = {
    statementTimeoutMs: Math.min(STATS_STATEMENT_TIMEOUT_MS, deps.config.pg.queryTimeoutMs - 1_000),
    maxGroups: STATS_MAX_GROUPS,
  };
  defineRouteWithParams(
    app,
    {
      method: "get",
      path: "/stats",
      tags: ["Statistics"],
      summary: "Conversion figures",
      description:
        "Per group (`group_by`: channel, country or prefix), the OTPs created in [from, to): sent (accepted), " +
        "delivered, failed, verified, conversion_rate (verified / sent) and the 50th and 95th percentiles of the " +
        `seconds from create to verification. Default window: the last 24 h; at most ${STATS_MAX_SPAN_DAYS} days. ` +
        "Test targets' codes are counted apart, in `test`. Query string or JSON body.",
      params: { schema: StatsRequest, in: "query" },
      responses: { 200: json(StatsResponse, "The figures."), ...errors("validation", "bad_request") },
    },
    async (c, input) => {
      if (running >= STATS_AT_ONCE) {
        throw new ApiError("unavailable", "Other statistics are being computed; try again shortly", {
          headers: { "Retry-After": "1" },
        });
      }
      running++;
      try {
        const answer = await readStats(domain, input, limits);
        if (!("error" in answer)) return ok(c, answer);
        const headers: Record<string, string> = answer.code === "unavailable" ? { "Retry-After": "1" } : {};
        throw new ApiError(answer.code, answer.error, { headers });
      } finally {
        running--;
      }
    },
  );
}
