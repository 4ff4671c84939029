import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import {
  OtpIdParam,
  OtpStatusResponse,
  PasswordRequest,
  PasswordResponse,
  TargetRequest,
  TargetResponse,
} from "@otp/contracts";
import { ApiError } from "../errors.js";
import type { AppEnv } from "../http/env.js";
import { ok } from "../http/envelope.js";
import { parseParams } from "../http/params.js";
import { defineRoute, errors, json } from "../http/route.js";
import { maskTarget } from "../mask.js";
import type { RouteContext } from "./context.js";

const jsonBody = (schema: typeof TargetRequest | typeof PasswordRequest) => ({
  content: { "application/json": { schema } },
});

/** `GET /target`, `GET /password` (seed) and `GET /otp/{id}` (delivery status). */
export function lookupRoutes(app: OpenAPIHono<AppEnv>, { lookups, deps }: RouteContext): void {
  defineRoute(
    app,
    createRoute({
      method: "get",
      path: "/target",
      tags: ["Lookups"],
      summary: "Who received this code",
      description: "The target of the newest live OTP of `channel` with this password. Query string or JSON body.",
      request: { query: TargetRequest, body: jsonBody(TargetRequest) },
      responses: { 200: json(TargetResponse, "Found."), ...errors("validation", "bad_request", "not_found") },
    }),
    async (c) => {
      const input = await parseParams(c, TargetRequest);
      const target = await lookups.targetOf(input.channel, input.password);
      if (target === undefined) throw new ApiError("not_found", "No live OTP with this password");
      c.set("target", maskTarget(target));
      return ok(c, { target });
    },
  );

  defineRoute(
    app,
    createRoute({
      method: "get",
      path: "/password",
      tags: ["Lookups"],
      summary: "The current code of a target",
      description:
        "The password of the newest live OTP of this phone, email or chat id, in any channel, generated codes " +
        "included. For back-office and tests; protect it with HTTP auth.",
      request: { query: PasswordRequest, body: jsonBody(PasswordRequest) },
      responses: { 200: json(PasswordResponse, "Found."), ...errors("validation", "bad_request", "not_found") },
    }),
    async (c) => {
      const { target } = await parseParams(c, PasswordRequest);
      c.set("target", maskTarget(target));
      const found = await lookups.passwordOf(target);
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
