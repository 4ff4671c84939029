import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import {
  Channel,
  canonicalTestTarget,
  OkResponse,
  TestTargetResponse,
  TestTargetsResponse,
  testTargetReaders,
  testTargetRequest,
  validationMessage,
} from "@otp/contracts";
import { z } from "zod";
import { ApiError } from "../api-error.js";
import { deleteTestTarget, listTestTargets, putTestTarget } from "../domain/test-target-store.js";
import type { TestTargets } from "../domain/test-targets.js";
import type { AppEnv } from "../http/env.js";
import { ok } from "../http/envelope.js";
import { defineRoute, defineRouteWithParams, errors, json } from "../http/route.js";
import { maskTarget } from "../mask.js";
import type { RouteContext } from "./context.js";

const PathParams = z.object({ channel: Channel, target: z.string() });

/**
 * `POST`, `GET /test-targets` and `DELETE /test-targets/{channel}/{target}` (docs/test-targets.md).
 * Registered only under `OTP_TEST_TARGETS=true`: otherwise these paths are unknown (404).
 */
export function testTargetRoutes(app: OpenAPIHono<AppEnv>, ctx: RouteContext, testTargets: TestTargets): void {
  const rules = ctx.deps.config.targets.phone;
  defineRouteWithParams(
    app,
    {
      method: "post",
      path: "/test-targets",
      tags: ["Test targets"],
      summary: "Add or replace a test target",
      description:
        "A fixed code for one channel and target: creates to it send nothing, skip limits and the destination " +
        "policy, and are marked `test: true`; the fixed code checks true. Replaces the code and expiry of an " +
        "existing one. The code is never shown again.",
      params: { schema: testTargetRequest(rules), in: "body" },
      responses: { 200: json(TestTargetResponse, "Stored."), ...errors("validation", "bad_request") },
    },
    async (c, raw) => {
      const input = canonicalTestTarget(rules, raw);
      c.set("target", maskTarget(input.target));
      const stored = await putTestTarget(ctx.domain, input);
      if ("error" in stored) throw new ApiError("validation", stored.error);
      testTargets.changed();
      return ok(c, stored);
    },
  );
  defineRoute(
    app,
    createRoute({
      method: "get",
      path: "/test-targets",
      tags: ["Test targets"],
      summary: "The test targets in force",
      description:
        "Without their codes. One whose code this process cannot read (stored under another OTP_SECRET) has " +
        "`unreadable: true`: creates to it are refused with 409 `conflict` until it is posted again.",
      responses: { 200: json(TestTargetsResponse, "Unexpired test targets, by channel and target."), ...errors() },
    }),
    async (c) => ok(c, { test_targets: await listTestTargets(ctx.domain) }),
  );
  deleteRoute(app, ctx, testTargets);
}

function deleteRoute(app: OpenAPIHono<AppEnv>, ctx: RouteContext, testTargets: TestTargets): void {
  const readers = testTargetReaders(ctx.deps.config.targets.phone);
  defineRoute(
    app,
    createRoute({
      method: "delete",
      path: "/test-targets/{channel}/{target}",
      tags: ["Test targets"],
      summary: "Remove a test target",
      description: "The target is read as a create reads it (`+7 701 …` and `7701…` are one phone).",
      request: { params: PathParams },
      responses: { 200: json(OkResponse, "Removed."), ...errors("validation", "not_found") },
    }),
    async (c) => {
      const channel = Channel.safeParse(c.req.param("channel"));
      if (!channel.success) throw new ApiError("validation", validationMessage(channel.error));
      const target = readers[channel.data].safeParse(c.req.param("target"));
      if (!target.success) throw new ApiError("validation", validationMessage(target.error));
      c.set("target", maskTarget(target.data));
      if (!(await deleteTestTarget(ctx.domain, channel.data, target.data))) {
        throw new ApiError("not_found", `No test target for this ${channel.data} target`);
      }
      testTargets.changed();
      return ok(c);
    },
  );
}
