import type { OpenAPIHono, RouteConfig } from "@hono/zod-openapi";
import { type ErrorCode, ErrorResponse, HTTP_STATUS_OF } from "@otp/contracts";
import type { Handler } from "hono";
import type { z } from "zod";
import type { AppEnv } from "./env.js";

/**
 * Registers a route twice from one definition: in the OpenAPI registry (the document is built from
 * the contracts' zod schemas) and in the router. Validation is not left to the generated
 * validators: parameters come from the body or the query with the seed's precedence (SPEC §1),
 * GET bodies included, which those validators cannot see; handlers call `parseParams` with the
 * same schemas instead.
 */
export function defineRoute(app: OpenAPIHono<AppEnv>, route: RouteConfig, handler: Handler<AppEnv>): void {
  app.openAPIRegistry.registerPath(route);
  app.on(route.method.toUpperCase(), route.path.replaceAll(/\{([^}]+)\}/g, ":$1"), handler);
}

export function json(schema: z.ZodType, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/** Parameters as a JSON or form body (POST). */
export function bodyOf(schema: z.ZodType) {
  return {
    content: {
      "application/json": { schema },
      "application/x-www-form-urlencoded": { schema },
    },
  };
}

/** The error answers a route can give, grouped by HTTP status as OpenAPI wants them. */
export function errors(...codes: ErrorCode[]) {
  const byStatus: Record<number, ErrorCode[]> = {};
  for (const code of [...codes, "unauthorized", "unavailable", "internal"] as ErrorCode[]) {
    const status = HTTP_STATUS_OF[code];
    byStatus[status] = [...(byStatus[status] ?? []), code];
  }
  return Object.fromEntries(
    Object.entries(byStatus).map(([status, list]) => [status, json(ErrorResponse, `status_code: ${list.join(", ")}`)]),
  );
}
