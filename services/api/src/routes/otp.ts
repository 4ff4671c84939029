import type { OpenAPIHono } from "@hono/zod-openapi";
import {
  CHANNEL_INFO,
  CHANNELS,
  type Channel,
  type CheckRequests,
  CheckResponse,
  CreatedResponse,
  createCheckRequests,
  createOtpRequests,
  isPolicyChannel,
  type OtpRequests,
  POLICY_REFUSAL_CODES,
  targetOf,
} from "@otp/contracts";
import { ApiError } from "../api-error.js";
import type { CheckResult } from "../domain/check.js";
import type { IssueRequest } from "../domain/issue.js";
import type { AppEnv } from "../http/env.js";
import { ok } from "../http/envelope.js";
import { defineRouteWithParams, errors, json } from "../http/route.js";
import { maskTarget } from "../mask.js";
import type { Metrics } from "../metrics.js";
import type { RouteContext } from "./context.js";

const TEXT_FIELDS = ["message", "subject", "text", "html"] as const;
type TextField = (typeof TEXT_FIELDS)[number];

/**
 * The texts of a parsed create request: those its channel has, when given. (`Record<string,
 * unknown>` lets a channel without texts, `call`, pass too.)
 */
function textsOf(input: Partial<Record<TextField, string>> & Record<string, unknown>): IssueRequest["texts"] {
  const texts: Partial<Record<TextField, string>> = {};
  for (const field of TEXT_FIELDS) {
    const value = input[field];
    if (value !== undefined) texts[field] = value;
  }
  return texts;
}

const ATTEMPTS_EXCEEDED_MESSAGE = "Too many wrong codes; request a new one";

const seconds = (n: number) => `${n} second${n === 1 ? "" : "s"}`;

/** A check's metrics: its outcome, and for a code's first right check its verification and the time it took. */
export function recordCheck(metrics: Metrics, channel: Channel, result: CheckResult): void {
  metrics.otpChecked.inc({ channel, outcome: result.outcome });
  if (result.verifiedSeconds === undefined) return;
  metrics.otpVerified.inc({ channel });
  metrics.timeToVerify.observe({ channel }, result.verifiedSeconds);
}

export function checkAnswer({ outcome, retryAfterSeconds = 1 }: CheckResult) {
  if (outcome === "match") return { status: true };
  if (outcome === "mismatch") return { status: false };
  if (outcome === "attempts_exceeded") {
    return { status: false, status_code: "attempts_exceeded", message: ATTEMPTS_EXCEEDED_MESSAGE };
  }
  const message = `Too many wrong codes; try again in ${seconds(retryAfterSeconds)}`;
  return { status: false, status_code: "check_throttled", message };
}

/** A create's failures: bad input, the limits, a phone channel's policy, and a test target whose code cannot be read (409). */
const createErrors = (channel: Channel) =>
  errors(
    "validation",
    "bad_request",
    "payload_too_large",
    "ip_limit",
    CHANNEL_INFO[channel].limitCode,
    ...(isPolicyChannel(channel) ? POLICY_REFUSAL_CODES : []),
    "conflict",
  );

/** `POST /{channel}` (create) and `GET /{channel}/check` for the four channels. */
export function otpRoutes(app: OpenAPIHono<AppEnv>, ctx: RouteContext): void {
  const { config } = ctx.deps;
  const createSchemas = createOtpRequests({
    maxLifetime: config.otp.maxLifetime,
    minPasswordLength: config.otp.minPasswordLength,
    codeLength: config.otp.codeLength,
    phone: config.targets.phone,
  });
  const checkSchemas = createCheckRequests(config.targets.phone);
  for (const channel of CHANNELS) {
    createOtpRoute(app, ctx, channel, createSchemas[channel]);
    checkOtpRoute(app, ctx, channel, checkSchemas[channel]);
  }
}

function createOtpRoute(
  app: OpenAPIHono<AppEnv>,
  { deps, issuer }: RouteContext,
  channel: Channel,
  schema: OtpRequests[Channel],
): void {
  const { metrics } = deps;
  defineRouteWithParams(
    app,
    {
      method: "post",
      path: `/${channel}`,
      tags: ["OTP"],
      summary: `Send a ${channel} OTP`,
      description:
        "Stores the code and queues its delivery. Omit `password` to have a code generated " +
        "(it replaces `{password}` in the texts and is never returned). Over a limit: HTTP 429 " +
        "with `Retry-After` (the original product answered 400 with the same body).",
      params: { schema, in: "body" },
      responses: {
        200: json(CreatedResponse, "Accepted; `content.id` identifies the OTP for `GET /otp/{id}`."),
        ...createErrors(channel),
      },
    },
    async (c, input) => {
      const target = targetOf(channel, input);
      c.set("target", maskTarget(target));
      const outcome = await issuer.issue({
        channel,
        target,
        ip: input.ip,
        password: input.password,
        codeLength: deps.config.otp.codeLength,
        lifetimeSeconds: input.lifetime,
        texts: textsOf(input),
        metadata: input.metadata,
      });
      if (!outcome.accepted) {
        const { code, message, retryAfterSeconds } = outcome.refusal;
        metrics.otpRefused.inc({ channel, reason: code });
        const headers: Record<string, string> =
          retryAfterSeconds === undefined ? {} : { "Retry-After": String(retryAfterSeconds) };
        throw new ApiError(code, message, { headers });
      }
      (outcome.test ? metrics.otpTestCreated : metrics.otpCreated).inc({ channel });
      if (outcome.crowded) {
        deps.logger.warn(
          { reqId: c.get("requestId"), channel, id: outcome.id },
          "every draw of a generated code was taken by a live code of the channel: issued a duplicate (raise OTP_CODE_LENGTH)",
        );
      }
      return ok(c, { id: outcome.id });
    },
  );
}

function checkOtpRoute(
  app: OpenAPIHono<AppEnv>,
  { deps, check }: RouteContext,
  channel: Channel,
  schema: CheckRequests[Channel],
): void {
  defineRouteWithParams(
    app,
    {
      method: "get",
      path: `/${channel}/check`,
      tags: ["OTP"],
      summary: `Check a ${channel} OTP`,
      description:
        `Parameters as a query string or, as seed clients send them, a JSON body on the GET. ` +
        "Always HTTP 200: `status` says whether the code is right; `status_code: attempts_exceeded` " +
        `when every unexpired code for this ${CHANNEL_INFO[channel].targetParam} has had too many wrong guesses; ` +
        "`status_code: check_throttled`, with `Retry-After`, while its wrong guesses have run out for now " +
        "(the code was not compared). Pass the end user's `ip` to count wrong guesses per address too.",
      params: { schema, in: "query" },
      responses: { 200: json(CheckResponse, "The answer."), ...errors("validation", "bad_request") },
    },
    async (c, input) => {
      const target = targetOf(channel, input);
      c.set("target", maskTarget(target));
      const result = await check({ channel, target, password: input.password, ip: input.ip });
      recordCheck(deps.metrics, channel, result);
      if (result.outcome === "check_throttled") c.header("Retry-After", String(result.retryAfterSeconds));
      return c.json(checkAnswer(result), 200);
    },
  );
}
