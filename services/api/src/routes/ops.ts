import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { HealthResponse, healthAnswer, OkResponse } from "@otp/contracts";
import { databaseAnswers } from "@otp/db";
import { cachedHealth } from "../health.js";
import type { AppEnv } from "../http/env.js";
import { defineRoute, json } from "../http/route.js";
import type { RouteContext } from "./context.js";

const HEALTH_TIMEOUT_MS = 2_000;

/** `/health`, `/livez` and `/metrics` (docs/operations.md). */
export function opsRoutes(app: OpenAPIHono<AppEnv>, ctx: RouteContext): void {
  const { metrics } = ctx.deps;
  const health = cachedHealth(async () => ({
    database: await databaseAnswers(ctx.deps.pool, HEALTH_TIMEOUT_MS),
    broker: ctx.deps.brokerReady(),
  }));
  defineRoute(
    app,
    createRoute({
      method: "get",
      path: "/health",
      tags: ["Operations"],
      summary: "Liveness of the database and the broker",
      description:
        "200 when `SELECT 1` answers and a publish to RabbitMQ can be attempted, else 503. Probed at most once a " +
        "second (a flood of probes is not a flood of queries). No auth.",
      responses: { 200: json(HealthResponse, "Healthy."), 503: json(HealthResponse, "Something is down.") },
    }),
    async (c) => {
      const answer = healthAnswer(await health());
      return c.json(answer, answer.status ? 200 : 503);
    },
  );
  defineRoute(
    app,
    createRoute({
      method: "get",
      path: "/livez",
      tags: ["Operations"],
      summary: "Liveness of the process itself",
      description: "200 whenever the process answers; no I/O, no auth. For liveness probes (restart when it fails).",
      responses: { 200: json(OkResponse, "The process answers.") },
    }),
    (c) => c.json({ status: true as const }, 200),
  );
  defineRoute(
    app,
    createRoute({
      method: "get",
      path: "/metrics",
      tags: ["Operations"],
      summary: "Prometheus metrics",
      responses: { 200: { description: "Prometheus text format.", content: { "text/plain": { schema: {} } } } },
    }),
    async (c) => {
      const body = await metrics.registry.metrics();
      return c.body(body, 200, { "Content-Type": metrics.registry.contentType });
    },
  );
}
