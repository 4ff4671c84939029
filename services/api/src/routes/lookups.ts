import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import {
  OtpIdParam,
  OtpStatusResponse,
  PasswordRequest,
  PasswordResponse,
  TargetRequest,
  TargetResponse,
  targetForms,
} from "@otp/contracts";
import { ApiError } from "../api-error.js";
import type { Budgeted } from "../domain/lookup-budget.js";
import type { Lookups } from "../domain/lookups.js";
import type { AppEnv } from "../http/env.js";
import { ok } from "../http/envelope.js";
import { defineRoute, defineRouteWithParams, errors, json } from "../http/route.js";
import { maskTarget } from "../mask.js";
import type { RouteContext } from "./context.js";

/** `GET /target`, `GET /password` (seed) and `GET /otp/{id}` (delivery status). */
export function lookupRoutes(app: OpenAPIHono<AppEnv>, ctx: RouteContext): void {
  targetRoute(app, ctx);
  passwordRoute(app, ctx);
  statusRoute(app, ctx.lookups);
}

function targetRoute(app: OpenAPIHono<AppEnv>, { lookups, deps }: RouteContext): void {
  defineRouteWithParams(
    app,
    {
      method: "get",
      path: "/target",
      tags: ["Lookups"],
      summary: "Who received this code",
      description:
        "The target of the live OTP of `channel` with this password. Query string or JSON body. Misses are " +
        "counted per channel (and per `ip` when given): past OTP_LOOKUP_MISSES a minute, every lookup is " +
        "refused with 429 `lookup_throttled` and `Retry-After`.",
      params: { schema: TargetRequest, in: "query" },
      responses: {
        200: json(TargetResponse, "Found."),
        ...errors("validation", "bad_request", "not_found", "lookup_throttled"),
      },
    },
    async (c, input) => {
      const found = throttledOrValue(await lookups.targetOf(input.channel, input.password, input.ip), "target", deps);
      if (found.kind === "ambiguous") {
        deps.logger.warn(
          { reqId: c.get("requestId"), channel: input.channel },
          "GET /target: live codes of more than one target have this password; answering not found",
        );
      }
      if (found.kind !== "found") throw new ApiError("not_found", "No live OTP with this password");
      c.set("target", maskTarget(found.target));
      return ok(c, { target: found.target });
    },
  );
}

function passwordRoute(app: OpenAPIHono<AppEnv>, { lookups, deps }: RouteContext): void {
  defineRouteWithParams(
    app,
    {
      method: "get",
      path: "/password",
      tags: ["Lookups"],
      summary: "The current code of a target",
      description:
        "The password of the newest live OTP of this phone, email or chat id, in any channel, generated codes " +
        "included. A target is looked up as given and, when it reads as a phone (or a chat id), also in its " +
        "canonical form. For back-office and tests; protect it with HTTP auth. Misses are counted: past " +
        "OTP_LOOKUP_MISSES a minute, every lookup is refused with 429 `lookup_throttled` and `Retry-After`.",
      params: { schema: PasswordRequest, in: "query" },
      responses: {
        200: json(PasswordResponse, "Found."),
        ...errors("validation", "bad_request", "not_found", "lookup_throttled"),
      },
    },
    async (c, { target }) => {
      c.set("target", maskTarget(target));
      const found = throttledOrValue(
        await lookups.passwordOf(targetForms(target, deps.config.targets.phone)),
        "password",
        deps,
      );
      if (found.kind === "undecryptable") {
        deps.logger.warn(
          { reqId: c.get("requestId"), otpId: found.id, reason: found.reason },
          "GET /password: the newest live OTP does not decrypt (issued under another OTP_SECRET?); answering not found",
        );
      }
      if (found.kind !== "found") throw new ApiError("not_found", "No live OTP for this target");
      return ok(c, { password: found.password });
    },
  );
}

/** The lookup's value, or the 429 of a spent miss budget (counted in `otp_lookup_throttled_total`). */
function throttledOrValue<T>(result: Budgeted<T>, lookup: "target" | "password", deps: RouteContext["deps"]): T {
  if (!result.throttled) return result.value;
  deps.metrics.lookupThrottled.inc({ lookup });
  const s = result.retryAfterSeconds;
  throw new ApiError(
    "lookup_throttled",
    `Too many lookups that found nothing; try again in ${s} second${s === 1 ? "" : "s"}`,
    { headers: { "Retry-After": String(s) } },
  );
}

/** `GET /otp/{id}`: the delivery status. */
function statusRoute(app: OpenAPIHono<AppEnv>, lookups: Lookups): void {
  defineRoute(
    app,
    createRoute({
      method: "get",
      path: "/otp/{id}",
      tags: ["Lookups"],
      summary: "Delivery status of an OTP",
      request: { params: OtpIdParam },
      responses: { 200: json(OtpStatusResponse, "Found."), ...errors("validation", "not_found") },
    }),
    async (c) => {
      const parsed = OtpIdParam.safeParse({ id: c.req.param("id") });
      if (!parsed.success) throw new ApiError("validation", '"id" must be a UUID');
      const status = await lookups.statusOf(parsed.data.id);
      if (!status) throw new ApiError("not_found", "No OTP with this id");
      return ok(c, status);
    },
  );
}
