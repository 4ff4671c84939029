import { z } from "zod";
import { isPublicAddress } from "./ip.js";
import { LIFECYCLE_EVENT_TYPES } from "./lifecycle.js";
import { literalAddress } from "./public-lookup.js";
import { contentResponse } from "./responses.js";
import { WEBHOOK_SECRET_PATTERN } from "./signing.js";

/**
 * Webhook subscriptions (docs/lifecycle.md, "Webhook subscriptions"): the request and answers of
 * `/webhooks`, and the rule their URLs follow, shared by the API and `OTP_WEBHOOK_URL`.
 */

/** What a subscription's `events` may hold: every event (`otp.*`) or event types. */
export const WEBHOOK_EVENT_PATTERNS = ["otp.*", ...LIFECYCLE_EVENT_TYPES] as const;
export const WebhookEventPattern = z.enum(WEBHOOK_EVENT_PATTERNS, {
  error: `"events" must hold "otp.*" or event types (${LIFECYCLE_EVENT_TYPES.join(", ")})`,
});

export const MAX_WEBHOOK_URL_LENGTH = 2048;
/** Subscriptions at most: each event is fanned out to every one that wants it, in the state change's transaction. */
export const MAX_WEBHOOKS = 100;

/**
 * What is wrong with a webhook URL before any name is resolved, or undefined: not http(s), with
 * credentials (they would be sent, and logged by proxies), or, unless `allowPrivate`, a literal
 * address or `localhost` that is not on the public internet. The API also resolves names
 * (services/api/src/domain/webhooks/url-check.ts).
 */
export function webhookUrlProblem(value: string, allowPrivate: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "must be an absolute http(s) URL";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return "must be an http(s) URL";
  if (url.username !== "" || url.password !== "") return "must not contain credentials (user:password@)";
  if (allowPrivate) return undefined;
  const host = url.hostname.toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost")) return `${host} is a loopback host`;
  const address = literalAddress(host);
  return address !== undefined && !isPublicAddress(address) ? `${address} is not a public address` : undefined;
}

/** How many bytes a `whsec_…` secret's key has. */
const secretBytes = (secret: string) => Buffer.from(secret.slice("whsec_".length), "base64").length;

/** `POST /webhooks`. */
export const WebhookCreateRequest = z.object({
  url: z
    .string({ error: '"url" must be a string' })
    .trim()
    .max(MAX_WEBHOOK_URL_LENGTH, { error: `"url" must be at most ${MAX_WEBHOOK_URL_LENGTH} characters` })
    .meta({ description: "Where events are POSTed: https (or http), no credentials, not a private address." }),
  events: z
    .array(WebhookEventPattern, { error: '"events" must be an array of event types' })
    .min(1, { error: '"events" must not be empty' })
    .max(WEBHOOK_EVENT_PATTERNS.length, { error: `"events" must have at most ${WEBHOOK_EVENT_PATTERNS.length} items` })
    .transform((events) => [...new Set(events)])
    .meta({ description: '`["otp.*"]` for every event, or some of the event types.' }),
  secret: z
    .string({ error: '"secret" must be a string' })
    .regex(WEBHOOK_SECRET_PATTERN, { error: '"secret" must be whsec_ followed by base64 of 24 to 64 bytes' })
    // Standard Webhooks: keys of 24 to 64 random bytes; shorter would weaken the HMAC, longer is waste.
    .refine((secret) => secretBytes(secret) >= 24 && secretBytes(secret) <= 64, {
      error: '"secret" must be whsec_ followed by base64 of 24 to 64 bytes',
    })
    .optional()
    .meta({ description: "A `whsec_…` secret of your own; one is generated (24 random bytes) when left out." }),
});
export type WebhookCreateRequest = z.output<typeof WebhookCreateRequest>;

/**
 * `PATCH /webhooks/{id}`: a new `url`, new `events`, or both, with the rules of a create. The id and
 * the secret stay, so the receiver keeps verifying and the subscription's dead letters still replay.
 */
export const WebhookUpdateRequest = WebhookCreateRequest.pick({ url: true, events: true })
  .partial()
  .refine((update) => update.url !== undefined || update.events !== undefined, {
    error: '"url" or "events" must be given (the secret cannot be changed: create a new subscription)',
  });
export type WebhookUpdateRequest = z.output<typeof WebhookUpdateRequest>;

export const WebhookContent = z.object({
  id: z.uuid(),
  url: z.string(),
  events: z.array(z.string()),
  /** `api` (POST /webhooks) or `env` (OTP_WEBHOOK_URL). */
  source: z.enum(["api", "env"]),
  created_at: z.iso.datetime(),
  unreadable: z
    .literal(true)
    .optional()
    .describe(
      "In GET /webhooks: its secret was sealed under another OTP_SECRET and cannot be opened, so its webhooks are " +
        "dead-lettered `unsealable`; create the subscription again (a new secret for the receiver) and delete this one.",
    ),
});
export type WebhookContent = z.infer<typeof WebhookContent>;

/** The answer of `POST /webhooks`: the only time the secret is shown. */
export const WebhookCreatedResponse = contentResponse(WebhookContent.extend({ secret: z.string() })).meta({
  id: "WebhookCreatedResponse",
});
export const WebhookListResponse = contentResponse(z.object({ webhooks: z.array(WebhookContent) })).meta({
  id: "WebhookListResponse",
});
/** The answer of `PATCH /webhooks/{id}`: the subscription as `GET /webhooks` lists it. */
export const WebhookResponse = contentResponse(WebhookContent).meta({ id: "WebhookResponse" });
export const WebhookIdParam = z.object({ id: z.uuid({ error: '"id" must be a UUID' }) });
