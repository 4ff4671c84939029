import type { HttpBindings } from "@hono/node-server";
import type { RequestIdVariables } from "hono/request-id";

/**
 * The Hono environment of the app. `Bindings` are @hono/node-server's when served on a port, and
 * absent under `app.request()` in tests: code reads `c.env?.incoming` and falls back to the Request.
 */
export type AppEnv = {
  Bindings: Partial<HttpBindings>;
  Variables: RequestIdVariables & {
    /** The request's target, masked, for the request log line. */
    target?: string;
    /** The parsed body, once read. */
    body?: Record<string, unknown> | null;
  };
};
