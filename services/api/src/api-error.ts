import { type ErrorCode, HTTP_STATUS_OF } from "@otp/contracts";

/**
 * The one error type of the API. Whatever throws it, the error handler answers with the original product's
 * envelope `{status: false, status_code, message}`, the HTTP status that goes with the code, and
 * any extra headers (`Retry-After`, `WWW-Authenticate`).
 */
export class ApiError extends Error {
  override readonly name = "ApiError";
  readonly code: ErrorCode;
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, message: string, options: { headers?: Record<string, string>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.headers = options.headers ?? {};
  }

  get status(): number {
    return HTTP_STATUS_OF[this.code];
  }
}
