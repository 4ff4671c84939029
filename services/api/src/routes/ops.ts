import { swaggerUI } from "@hono/swagger-ui";
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { HealthResponse, healthAnswer } from "@otp/contracts";
import { databaseAnswers } from "@otp/db";
import type { AppEnv } from "../http/env.js";
import { defineRoute, json } from "../http/route.js";
import type { RouteContext } from "./context.js";

const HEALTH_TIMEOUT_MS = 2_000;

/** `/health` and `/metrics` (not in the OpenAPI document's tags of the product, but documented). */
export function opsRoutes(app: OpenAPIHono<AppEnv>, ctx: RouteContext): void {
  const { metrics } = ctx.deps;
  defineRoute(
    app,
    createRoute({
      method: "get",
      path: "/health",
      tags: ["Operations"],
      summary: "Liveness of the database and the broker",
      description: "200 when `SELECT 1` answers and a publish to RabbitMQ can be attempted, else 503. No auth.",
      responses: { 200: json(HealthResponse, "Healthy."), 503: json(HealthResponse, "Something is down.") },
    }),
    async (c) => {
      const database = await databaseAnswers(ctx.deps.pool, HEALTH_TIMEOUT_MS);
      const answer = healthAnswer({ database, broker: ctx.deps.brokerReady() });
      return c.json(answer, answer.status ? 200 : 503);
    },
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
  app.get("/docs", swaggerUI({ url: "/openapi.json", title: "OTP service API" }));
}
