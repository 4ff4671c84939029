import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ApiError } from "../api-error.js";

/** `{status: true}`, or `{status: true, content}` when there is data. */
export function ok(c: Context, content?: object): Response {
  return c.json(content === undefined ? { status: true } : { status: true, content }, 200);
}

/** The original product's failure envelope: `{status: false, status_code, message}`, and `content` when the error has one. */
export function failure(c: Context, error: ApiError): Response {
  const content = error.content === undefined ? {} : { content: error.content };
  return c.json(
    { status: false, status_code: error.code, message: error.message, ...content },
    error.status as ContentfulStatusCode,
    error.headers,
  );
}
