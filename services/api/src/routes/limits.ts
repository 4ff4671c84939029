import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { CHANNEL_INFO, CHANNELS, type LimitRule, LimitsResponse, OkResponse, SetLimitRequests } from "@otp/contracts";
import { readRules, replaceRules, rulesChangeOf } from "../domain/limits.js";
import type { AppEnv } from "../http/env.js";
import { ok } from "../http/envelope.js";
import { parseParams } from "../http/params.js";
import { bodyOf, defineRoute, errors, json } from "../http/route.js";
import type { RouteContext } from "./context.js";

/** `POST /limit/{channel}` and `GET /limit/{channel}`. Rules are read in each create, so no cache to invalidate. */
export function limitRoutes(app: OpenAPIHono<AppEnv>, { domain }: RouteContext): void {
  for (const channel of CHANNELS) {
    const schema = SetLimitRequests[channel];
    const { targetRules } = CHANNEL_INFO[channel];
    defineRoute(
      app,
      createRoute({
        method: "post",
        path: `/limit/${channel}`,
        tags: ["Limits"],
        summary: `Set the ${channel} limits`,
        description:
          `Each array present (\`ips\`, \`${targetRules}\`) replaces that measure's rules; an empty array ` +
          "clears them; an absent one keeps them. A rejected request changes nothing.",
        request: { body: bodyOf(schema) },
        responses: { 200: json(OkResponse, "Saved."), ...errors("validation", "bad_request") },
      }),
      async (c) => {
        const input = (await parseParams(c, schema)) as Record<string, LimitRule[] | undefined>;
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
