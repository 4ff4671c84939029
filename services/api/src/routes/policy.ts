import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import {
  OkResponse,
  POLICY_CHANNELS,
  PolicyBlocksResponse,
  type PolicyChannel,
  PolicyResponse,
  PrefixParam,
  policyChangeSchema,
} from "@otp/contracts";
import { ApiError } from "../api-error.js";
import { activeBlocks, liftBlock } from "../domain/policy/blocks.js";
import { changePolicy, readPolicy } from "../domain/policy/store.js";
import type { AppEnv } from "../http/env.js";
import { ok } from "../http/envelope.js";
import { defineRoute, defineRouteWithParams, errors, json } from "../http/route.js";
import type { RouteContext } from "./context.js";

/**
 * The destination policy of `sms` and `call` (docs/policy.md): `POST/GET /policy/{channel}`, its
 * active suspensions and their lifting. A change is in force on this replica at once and on every
 * other within a second (their `PolicyCache`).
 */
export function policyRoutes(app: OpenAPIHono<AppEnv>, ctx: RouteContext): void {
  const schema = policyChangeSchema(ctx.deps.config.targets.phone);
  for (const channel of POLICY_CHANNELS) {
    defineRouteWithParams(
      app,
      {
        method: "post",
        path: `/policy/${channel}`,
        tags: ["Policy"],
        summary: `Change the ${channel} destination policy`,
        description:
          "Each key present replaces that part of the policy, down to `countries.allow`, `countries.deny` and " +
          "`prefixes.deny`; an absent key keeps it; `conversion_guard: null` removes the guard. Answers the " +
          "whole policy as it now is. A rejected request changes nothing.",
        params: { schema, in: "body" },
        responses: { 200: json(PolicyResponse, "The policy now."), ...errors("validation", "bad_request") },
      },
      async (c, input) => ok(c, await changePolicy(ctx.domain, channel, input)),
    );
    defineRoute(
      app,
      createRoute({
        method: "get",
        path: `/policy/${channel}`,
        tags: ["Policy"],
        summary: `Read the ${channel} destination policy`,
        responses: { 200: json(PolicyResponse, "The policy (mode off and empty until one is set)."), ...errors() },
      }),
      async (c) => ok(c, await readPolicy(ctx.domain, channel)),
    );
    blockRoutes(app, ctx, channel);
  }
}

function blockRoutes(app: OpenAPIHono<AppEnv>, { domain }: RouteContext, channel: PolicyChannel): void {
  defineRoute(
    app,
    createRoute({
      method: "get",
      path: `/policy/${channel}/blocks`,
      tags: ["Policy"],
      summary: `The ${channel} prefixes suspended now`,
      responses: { 200: json(PolicyBlocksResponse, "Active suspensions, oldest first."), ...errors() },
    }),
    async (c) => ok(c, { blocks: await activeBlocks(domain, channel) }),
  );
  defineRoute(
    app,
    createRoute({
      method: "delete",
      path: `/policy/${channel}/blocks/{prefix}`,
      tags: ["Policy"],
      summary: `Lift a ${channel} suspension`,
      description:
        "Ends the suspension now and forgives the prefix: the sends before the lift no longer count, and its next " +
        "suspension is a first one (also for a prefix whose suspension has ended while its streak is remembered).",
      request: { params: PrefixParam },
      responses: { 200: json(OkResponse, "Lifted."), ...errors("validation", "not_found") },
    }),
    async (c) => {
      const parsed = PrefixParam.safeParse({ prefix: c.req.param("prefix") });
      if (!parsed.success) throw new ApiError("validation", '"prefix" must be 1 to 15 digits');
      if (!(await liftBlock(domain, channel, parsed.data.prefix))) {
        // Not the prefix itself: up to 15 digits, it may be a whole number (docs/security.md, "Logs").
        throw new ApiError("not_found", `No suspension or streak of that prefix to lift for ${channel}`);
      }
      return ok(c);
    },
  );
}
