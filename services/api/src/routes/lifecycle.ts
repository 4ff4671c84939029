import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { CheckByIdRequest, CheckByIdResponse, OtpIdParam, OtpStatusResponse } from "@otp/contracts";
import { ApiError } from "../api-error.js";
import type { AppEnv } from "../http/env.js";
import { ok } from "../http/envelope.js";
import { parseParams } from "../http/params.js";
import { defineRoute, errors, json } from "../http/route.js";
import { maskTarget } from "../mask.js";
import type { RouteContext } from "./context.js";
import { checkAnswer, recordCheck } from "./otp.js";

/** `POST /otp/{id}/check` and `DELETE /otp/{id}` (docs/lifecycle.md, "Check and cancel by id"). */
export function lifecycleRoutes(app: OpenAPIHono<AppEnv>, ctx: RouteContext): void {
  checkByIdRoute(app, ctx);
  cancelRoute(app, ctx);
}

const idOf = (raw: string | undefined): string => {
  const parsed = OtpIdParam.safeParse({ id: raw });
  if (!parsed.success) throw new ApiError("validation", '"id" must be a UUID');
  return parsed.data.id;
};

function checkByIdRoute(app: OpenAPIHono<AppEnv>, { deps, lifecycle }: RouteContext): void {
  defineRoute(
    app,
    createRoute({
      method: "post",
      path: "/otp/{id}/check",
      tags: ["Lifecycle"],
      summary: "Check the code of one OTP",
      description:
        "Answers like `GET /{channel}/check` (HTTP 200; `attempts_exceeded` when this OTP's code is dead of wrong " +
        "guesses; `check_throttled` with `Retry-After`), plus `content.attempts_left`. Only this OTP's code " +
        "matches; the wrong guesses count toward the same budget and throttle as the channel's checks.",
      request: {
        params: OtpIdParam,
        body: { content: { "application/json": { schema: CheckByIdRequest } } },
      },
      responses: {
        200: json(CheckByIdResponse, "The answer."),
        ...errors("validation", "bad_request", "not_found"),
      },
    }),
    async (c) => {
      const id = idOf(c.req.param("id"));
      const input = await parseParams(c, CheckByIdRequest);
      const checked = await lifecycle.checkById(id, input.password, input.ip);
      if (!checked) throw new ApiError("not_found", "No OTP with this id");
      c.set("target", maskTarget(checked.target));
      const { result } = checked;
      recordCheck(deps.metrics, checked.channel, result);
      if (result.outcome === "check_throttled") c.header("Retry-After", String(result.retryAfterSeconds));
      return c.json({ ...checkAnswer(result), content: { attempts_left: result.attemptsLeft } }, 200);
    },
  );
}

function cancelRoute(app: OpenAPIHono<AppEnv>, { lifecycle }: RouteContext): void {
  defineRoute(
    app,
    createRoute({
      method: "delete",
      path: "/otp/{id}",
      tags: ["Lifecycle"],
      summary: "Cancel an OTP",
      description:
        "Closes a pending code: it no longer checks, and a delivery not yet sent is dropped. Answers the OTP as " +
        "`GET /otp/{id}` does. Idempotent: a canceled code (also superseded or consumed by another) answers its " +
        "state again. An approved, expired or dead code cannot be canceled: 409 `conflict` with its state in `content`.",
      request: { params: OtpIdParam },
      responses: {
        200: json(OtpStatusResponse, "Canceled, or canceled before."),
        ...errors("validation", "not_found", "conflict"),
      },
    }),
    async (c) => {
      const canceled = await lifecycle.cancel(idOf(c.req.param("id")));
      if (!canceled) throw new ApiError("not_found", "No OTP with this id");
      const { result, status } = canceled;
      if (result === "refused") {
        const message = `The OTP is ${status.verification.status.replaceAll("_", " ")}; only a pending one can be canceled`;
        throw new ApiError("conflict", message, { content: status });
      }
      return ok(c, status);
    },
  );
}
