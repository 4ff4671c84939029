import type { Logger } from "@otp/contracts";
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { ApiError } from "../api-error.js";
import { isRejectedData } from "../db/rejected-data.js";
import { isDatabaseUnavailable } from "../db/unavailable.js";
import type { AppEnv } from "./env.js";
import { failure } from "./envelope.js";

/** Hono's own exceptions (basic auth, ...) by status, as our codes. */
function fromHttpException(error: HTTPException): ApiError {
  const headers: Record<string, string> = {};
  const challenge = error.getResponse().headers.get("WWW-Authenticate");
  if (challenge) headers["WWW-Authenticate"] = challenge;
  switch (error.status) {
    case 401:
      return new ApiError("unauthorized", "Authentication required", { headers });
    case 404:
      return new ApiError("not_found", "Not found");
    case 405:
      return new ApiError("method_not_allowed", "Method not allowed");
    case 413:
      return new ApiError("payload_too_large", "The request body is too large");
    default:
      return error.status >= 400 && error.status < 500
        ? new ApiError("bad_request", error.message || "Bad request")
        : new ApiError("internal", "Internal error");
  }
}

/**
 * The answer for `error`, and whether it is a value PostgreSQL refused (the handler logs that
 * case apart), decided in one walk of the error's causes rather than one for each question.
 */
function classify(error: unknown): { apiError: ApiError; refusedByDatabase: boolean } {
  if (error instanceof ApiError) return { apiError: error, refusedByDatabase: false };
  if (isDatabaseUnavailable(error)) {
    const apiError = new ApiError("unavailable", "The database is unavailable; try again shortly", {
      headers: { "Retry-After": "1" },
    });
    return { apiError, refusedByDatabase: false };
  }
  if (isRejectedData(error)) {
    const apiError = new ApiError(
      "validation",
      "A parameter holds a value that cannot be stored (a control character?)",
    );
    return { apiError, refusedByDatabase: true };
  }
  if (error instanceof HTTPException) return { apiError: fromHttpException(error), refusedByDatabase: false };
  return { apiError: new ApiError("internal", "Internal error"), refusedByDatabase: false };
}

export function toApiError(error: unknown): ApiError {
  return classify(error).apiError;
}

/**
 * The one error handler: every error becomes the original product envelope. Unknown errors are logged with
 * the request id and answered 500 `internal`, never with their details.
 */
export function errorHandler(logger: Logger): ErrorHandler<AppEnv> {
  return (error, c) => {
    const { apiError, refusedByDatabase } = classify(error);
    const reqId = c.get("requestId");
    if (apiError.code === "internal") logger.error({ err: error, reqId }, "internal error");
    else if (apiError.code === "unavailable") logger.warn({ reqId, cause: String(error) }, "database unavailable");
    // A 400 for the client, but validation should have caught it: keep it visible.
    else if (refusedByDatabase) logger.warn({ reqId, cause: String(error) }, "database refused a request value");
    // Whatever is left of an oversized body is not worth reading on a kept-alive connection.
    if (apiError.code === "payload_too_large") c.header("Connection", "close");
    return failure(c, apiError);
  };
}

/**
 * A path as an error message may repeat it: its words (`/sms/chek`), but any other segment as `…`,
 * since a path can hold a full target (`/test-targets/sms/77011234567` → `/test-targets/sms/…`).
 */
export function pathWithoutValues(path: string): string {
  return path
    .split("/")
    .map((segment) => (segment === "" || /^[a-z][a-z.-]*$/i.test(segment) ? segment : "…"))
    .join("/");
}

export const notFound: NotFoundHandler<AppEnv> = (c) =>
  failure(c, new ApiError("not_found", `No such endpoint: ${c.req.method} ${pathWithoutValues(c.req.path)}`));

export function methodNotAllowed(c: Context<AppEnv>, methods: string[]): Response {
  const path = pathWithoutValues(c.req.path);
  return failure(
    c,
    new ApiError("method_not_allowed", `${c.req.method} is not allowed on ${path}; use ${methods.join(", ")}`, {
      headers: { Allow: methods.join(", ") },
    }),
  );
}
