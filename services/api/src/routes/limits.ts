import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { CHANNEL_INFO, CHANNELS, LimitsResponse, OkResponse, SetLimitRequests } from "@otp/contracts";
import { readRules, replaceRules, rulesChangeOf } from "../domain/limits.js";
import type { AppEnv } from "../http/env.js";
import { ok } from "../http/envelope.js";
import { defineRoute, defineRouteWithParams, errors, json } from "../http/route.js";
import type { RouteContext } from "./context.js";

/** `POST /limit/{channel}` and `GET /limit/{channel}`. Rules are read in each create, so no cache to invalidate. */
export function limitRoutes(app: OpenAPIHono<AppEnv>, { domain }: RouteContext): void {
  for (const channel of CHANNELS) {
    const { targetRules } = CHANNEL_INFO[channel];
    defineRouteWithParams(
      app,
      {
        method: "post",
        path: `/limit/${channel}`,
        tags: ["Limits"],
        summary: `Set the ${channel} limits`,
        description:
          `Each array present (\`ips\`, \`${targetRules}\`) replaces that measure's rules; an empty array ` +
          "clears them; an absent one keeps them. A rejected request changes nothing.",
        params: { schema: SetLimitRequests[channel], in: "body" },
        responses: { 200: json(OkResponse, "Saved."), ...errors("validation", "bad_request") },
      },
      async (c, input) => {
        await replaceRules(domain, channel, rulesChangeOf(channel, input));
        return ok(c);
      },
    );
    defineRoute(
      app,
      createRoute({
        method: "get",
        path: `/limit/${channel}`,
        tags: ["Limits"],
        summary: `Read the ${channel} limits`,
        responses: { 200: json(LimitsResponse, `\`ips\` and \`${targetRules}\`, in the order set.`), ...errors() },
      }),
      async (c) => {
        const rules = await readRules(domain, channel);
        return ok(c, { ips: rules.ip, [targetRules]: rules.target });
      },
    );
  }
}
