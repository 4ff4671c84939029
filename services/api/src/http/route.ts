import type { OpenAPIHono, RouteConfig } from "@hono/zod-openapi";
import { type ErrorCode, ErrorResponse, HTTP_STATUS_OF } from "@otp/contracts";
import type { Context, Handler } from "hono";
import type { z } from "zod";
import type { AppEnv } from "./env.js";
import { parseParams } from "./params.js";

/**
 * Registers a route twice from one definition: in the OpenAPI registry (the document is built from
 * the contracts' zod schemas) and in the router. Routes that take parameters are defined with
 * {@link defineRouteWithParams} instead.
 */
export function defineRoute(app: OpenAPIHono<AppEnv>, route: RouteConfig, handler: Handler<AppEnv>): void {
  app.openAPIRegistry.registerPath(route);
  app.on(route.method.toUpperCase(), route.path.replaceAll(/\{([^}]+)\}/g, ":$1"), handler);
}

/** How a route takes its parameters, declared once: the document and the validation both use it. */
export interface Params<S extends z.ZodObject> {
  readonly schema: S;
  /**
   * Where the document says they go: `body`, a POST's JSON or form body; `query`, a GET's query
   * string, or a JSON body on the GET as perfumerlabs/otp clients send it. Either way they are read
   * from the query string and the body together, the body's value winning (`readParams`): the
   * generated validators could not see a GET's body, so they are not used.
   */
  readonly in: "body" | "query";
}

/** A route whose `request` is documented from its {@link Params}. */
export type ParamsRouteConfig<S extends z.ZodObject> = Omit<RouteConfig, "request"> & { readonly params: Params<S> };

/** A handler given the parameters its route's schema parsed, typed by that schema. */
export type ParamsHandler<S extends z.ZodObject> = (
  c: Context<AppEnv>,
  input: z.output<S>,
) => Response | Promise<Response>;

/**
 * {@link defineRoute} for a route with parameters: they are validated with `route.params.schema`
 * before the handler runs (a failure is a 400 `validation` naming the first problem), and the
 * handler receives what the schema parsed.
 */
export function defineRouteWithParams<S extends z.ZodObject>(
  app: OpenAPIHono<AppEnv>,
  route: ParamsRouteConfig<S>,
  handler: ParamsHandler<S>,
): void {
  const { params, ...config } = route;
  const { schema } = params;
  const request: RouteConfig["request"] =
    params.in === "body" ? { body: bodyOf(schema) } : { query: schema, body: jsonBodyOf(schema) };
  defineRoute(app, { ...config, request }, async (c) => handler(c, await parseParams(c, schema)));
}

export function json(schema: z.ZodType, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/** Parameters as a JSON or form body (POST). */
function bodyOf(schema: z.ZodType) {
  return {
    content: {
      "application/json": { schema },
      "application/x-www-form-urlencoded": { schema },
    },
  };
}

/** Parameters as a JSON body: on a GET, beside the query string. */
function jsonBodyOf(schema: z.ZodType) {
  return { content: { "application/json": { schema } } };
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
