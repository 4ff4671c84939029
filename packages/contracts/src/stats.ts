import { z } from "zod";
import { CHANNELS } from "./channels.js";
import { optional } from "./scalars.js";

/**
 * `GET /stats` (docs/statistics.md): conversion figures of the OTPs created in a window, per
 * channel, country or phone prefix, test targets' codes apart.
 */

export const STATS_GROUPINGS = ["channel", "country", "prefix"] as const;
export type StatsGrouping = (typeof STATS_GROUPINGS)[number];

/** The window when `from` and `to` are absent: the last 24 hours. */
export const STATS_DEFAULT_SPAN_MS = 24 * 3600 * 1000;
/** The longest window asked for at once (docs/statistics.md, "Parameters"). */
export const STATS_MAX_SPAN_DAYS = 90;
/** Digits of a phone target that make its prefix, when `prefix_length` is absent (as the conversion guard's). */
export const STATS_DEFAULT_PREFIX_LENGTH = 6;
export const STATS_MAX_PREFIX_LENGTH = 15;
/** At most this many groups in `groups`, and in `test`: those that sent the most (docs/statistics.md, "Fields"). */
export const STATS_MAX_GROUPS = 1000;
/** The earliest and the latest instant a window may touch: what a timestamp and an ISO answer both hold. */
export const STATS_EARLIEST = Date.UTC(1970, 0, 1);
export const STATS_LATEST = Date.UTC(9999, 0, 1);

/** An instant in ISO 8601 with its offset (`Z` or `+05:00`): a time without one would depend on a zone. */
const instant = (name: string) =>
  z.preprocess(
    (v) => (typeof v === "string" ? v.trim() : v),
    z
      .string({ error: `"${name}" must be an ISO 8601 date-time with an offset, e.g. 2025-01-31T00:00:00Z` })
      .pipe(
        z.iso.datetime({
          offset: true,
          error: `"${name}" must be an ISO 8601 date-time with an offset, e.g. 2025-01-31T00:00:00Z`,
        }),
      )
      .transform((v) => new Date(v)),
  );

const prefixLength = z.preprocess(
  (v) => (typeof v === "string" && /^\d+$/.test(v.trim()) ? Number(v) : v),
  z
    .number({ error: `"prefix_length" must be an integer from 1 to ${STATS_MAX_PREFIX_LENGTH}` })
    .int({ error: `"prefix_length" must be an integer from 1 to ${STATS_MAX_PREFIX_LENGTH}` })
    .min(1, { error: `"prefix_length" must be an integer from 1 to ${STATS_MAX_PREFIX_LENGTH}` })
    .max(STATS_MAX_PREFIX_LENGTH, { error: `"prefix_length" must be an integer from 1 to ${STATS_MAX_PREFIX_LENGTH}` }),
);

/** The query string or JSON body of `GET /stats`; the window's defaults and bounds are checked by the API. */
export const StatsRequest = z.object({
  from: optional(instant("from")).meta({ description: "Start of the window (included); default `to` − 24 h." }),
  to: optional(instant("to")).meta({ description: "End of the window (excluded); default now." }),
  channel: optional(z.enum(CHANNELS, { error: `"channel" must be one of ${CHANNELS.join(", ")}` })),
  group_by: optional(
    z.enum(STATS_GROUPINGS, { error: `"group_by" must be one of ${STATS_GROUPINGS.join(", ")}` }),
  ).meta({ description: "Default `channel`. `prefix` counts the phone channels (sms, call) only." }),
  prefix_length: optional(prefixLength).meta({
    description: `Digits of the phone number that make a prefix under group_by=prefix (default ${STATS_DEFAULT_PREFIX_LENGTH}).`,
  }),
});
export type StatsRequest = z.output<typeof StatsRequest>;

const seconds = z.number().nullable();

/** One group's figures; its key is the field named like `group_by` (`channel`, `country` or `prefix`). */
export const StatsGroup = z
  .object({
    channel: z.enum(CHANNELS).optional(),
    country: z.string().nullable().optional(),
    prefix: z.string().optional(),
    sent: z.number().int().meta({ description: "OTPs accepted (created) in the window." }),
    delivered: z.number().int().meta({ description: "Of those, delivery status `delivered` now." }),
    failed: z.number().int().meta({ description: "Of those, delivery status `failed` now." }),
    verified: z.number().int().meta({ description: "Of those, verified (checked right at least once)." }),
    conversion_rate: z.number().nullable().meta({ description: "verified / sent; null when sent is 0." }),
    p50_seconds_to_verify: seconds,
    p95_seconds_to_verify: seconds,
  })
  .meta({ id: "StatsGroup" });
export type StatsGroup = z.infer<typeof StatsGroup>;

export const StatsContent = z.object({
  from: z.iso.datetime(),
  to: z.iso.datetime(),
  channel: z.enum(CHANNELS).nullable(),
  group_by: z.enum(STATS_GROUPINGS),
  prefix_length: z.number().int().nullable(),
  groups: z.array(StatsGroup).meta({ description: "Real traffic: every OTP except test targets' codes." }),
  truncated: z.boolean().meta({
    description: `True when \`groups\` or \`test\` had more than ${STATS_MAX_GROUPS} groups: each then holds the ${STATS_MAX_GROUPS} that sent the most.`,
  }),
  test: z.array(StatsGroup).meta({ description: "Test targets' codes (docs/test-targets.md), counted apart." }),
});
export type StatsContent = z.infer<typeof StatsContent>;
export const StatsResponse = z.object({ status: z.literal(true), content: StatsContent }).meta({ id: "StatsResponse" });
