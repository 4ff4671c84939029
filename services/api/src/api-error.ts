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
  /** What the failure is about, when the client needs it (a 409's current state): the envelope's `content`. */
  readonly content: object | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { headers?: Record<string, string>; cause?: unknown; content?: object } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.headers = options.headers ?? {};
    this.content = options.content;
  }

  get status(): number {
    return HTTP_STATUS_OF[this.code];
  }
}
