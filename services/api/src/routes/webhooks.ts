import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import {
  OkResponse,
  WebhookCreatedResponse,
  WebhookCreateRequest,
  WebhookIdParam,
  WebhookListResponse,
  WebhookResponse,
  WebhookUpdateRequest,
} from "@otp/contracts";
import { ApiError } from "../api-error.js";
import type { AppEnv } from "../http/env.js";
import { ok } from "../http/envelope.js";
import { parseParams } from "../http/params.js";
import { defineRoute, defineRouteWithParams, errors, json } from "../http/route.js";
import type { RouteContext } from "./context.js";

/** `POST/GET /webhooks`, `PATCH/DELETE /webhooks/{id}` (docs/lifecycle.md, "Webhook subscriptions"). */
export function webhookRoutes(app: OpenAPIHono<AppEnv>, ctx: RouteContext): void {
  createRouteOf(app, ctx);
  listRoute(app, ctx);
  updateRoute(app, ctx);
  deleteRoute(app, ctx);
}

const idOf = (raw: string | undefined): string => {
  const parsed = WebhookIdParam.safeParse({ id: raw });
  if (!parsed.success) throw new ApiError("validation", '"id" must be a UUID');
  return parsed.data.id;
};

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
      description:
        "A subscription whose secret was sealed under another OTP_SECRET is marked `unreadable`: its webhooks " +
        "cannot be signed; create it again.",
      responses: { 200: json(WebhookListResponse, "The subscriptions, oldest first."), ...errors() },
    }),
    async (c) => ok(c, { webhooks: await webhooks.list() }),
  );
}

/**
 * Defined like `POST /otp/{id}/check` rather than with `defineRouteWithParams`, which documents a
 * body or a query but not a path parameter: the id is validated first, then the body (400 `validation`).
 */
function updateRoute(app: OpenAPIHono<AppEnv>, { webhooks }: RouteContext): void {
  defineRoute(
    app,
    createRoute({
      method: "patch",
      path: "/webhooks/{id}",
      tags: ["Lifecycle"],
      summary: "Change a subscription's URL or events",
      description:
        "Same rules as `POST /webhooks`; the id, the secret and `created_at` stay. Webhooks already waiting (retries, " +
        "dead letters replayed) go to the new URL; new `events` apply to events from now on. The OTP_WEBHOOK_URL " +
        "subscription is changed through its variables.",
      request: {
        params: WebhookIdParam,
        body: { content: { "application/json": { schema: WebhookUpdateRequest } } },
      },
      responses: {
        200: json(WebhookResponse, "The subscription, as GET /webhooks lists it."),
        ...errors("validation", "bad_request", "not_found", "conflict"),
      },
    }),
    async (c) => {
      const id = idOf(c.req.param("id"));
      const updated = await webhooks.update(id, await parseParams(c, WebhookUpdateRequest));
      if (updated.outcome === "refused") throw new ApiError("validation", updated.problem);
      if (updated.outcome === "not_found") throw new ApiError("not_found", "No webhook subscription with this id");
      if (updated.outcome === "configured") {
        throw new ApiError(
          "conflict",
          "This subscription is configured by OTP_WEBHOOK_URL; change the variable instead",
        );
      }
      return ok(c, updated.webhook);
    },
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
      const removed = await webhooks.remove(idOf(c.req.param("id")));
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
