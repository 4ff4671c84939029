import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import {
  OkResponse,
  WebhookCreatedResponse,
  WebhookCreateRequest,
  WebhookIdParam,
  WebhookListResponse,
} from "@otp/contracts";
import { ApiError } from "../api-error.js";
import type { AppEnv } from "../http/env.js";
import { ok } from "../http/envelope.js";
import { defineRoute, defineRouteWithParams, errors, json } from "../http/route.js";
import type { RouteContext } from "./context.js";

/** `POST/GET /webhooks`, `DELETE /webhooks/{id}` (docs/lifecycle.md, "Webhook subscriptions"). */
export function webhookRoutes(app: OpenAPIHono<AppEnv>, ctx: RouteContext): void {
  createRouteOf(app, ctx);
  listRoute(app, ctx);
  deleteRoute(app, ctx);
}

function createRouteOf(app: OpenAPIHono<AppEnv>, { webhooks }: RouteContext): void {
  defineRouteWithParams(
    app,
    {
      method: "post",
      path: "/webhooks",
      tags: ["Lifecycle"],
      summary: "Subscribe to lifecycle events",
      description:
        "Events are POSTed to `url`, signed the Standard Webhooks way with the subscription's secret, which this " +
        "answer shows once. URLs on loopback, private, link-local or unique-local addresses are refused unless " +
        "OTP_WEBHOOK_ALLOW_PRIVATE=true.",
      params: { schema: WebhookCreateRequest, in: "body" },
      responses: { 200: json(WebhookCreatedResponse, "Subscribed."), ...errors("validation", "bad_request") },
    },
    async (c, input) => {
      const created = await webhooks.create(input);
      if (!created.ok) throw new ApiError("validation", created.problem);
      return ok(c, created.webhook);
    },
  );
}

function listRoute(app: OpenAPIHono<AppEnv>, { webhooks }: RouteContext): void {
  defineRoute(
    app,
    createRoute({
      method: "get",
      path: "/webhooks",
      tags: ["Lifecycle"],
      summary: "The subscriptions (without their secrets)",
      responses: { 200: json(WebhookListResponse, "The subscriptions, oldest first."), ...errors() },
    }),
    async (c) => ok(c, { webhooks: await webhooks.list() }),
  );
}

function deleteRoute(app: OpenAPIHono<AppEnv>, { webhooks }: RouteContext): void {
  defineRoute(
    app,
    createRoute({
      method: "delete",
      path: "/webhooks/{id}",
      tags: ["Lifecycle"],
      summary: "Unsubscribe",
      description:
        "Events not yet sent to it are dropped. The OTP_WEBHOOK_URL subscription is removed by unsetting it.",
      request: { params: WebhookIdParam },
      responses: { 200: json(OkResponse, "Deleted."), ...errors("validation", "not_found", "conflict") },
    }),
    async (c) => {
      const parsed = WebhookIdParam.safeParse({ id: c.req.param("id") });
      if (!parsed.success) throw new ApiError("validation", '"id" must be a UUID');
      const removed = await webhooks.remove(parsed.data.id);
      if (removed === "not_found") throw new ApiError("not_found", "No webhook subscription with this id");
      if (removed === "configured") {
        throw new ApiError(
          "conflict",
          "This subscription is configured by OTP_WEBHOOK_URL; unset the variable instead",
        );
      }
      return ok(c);
    },
  );
}
