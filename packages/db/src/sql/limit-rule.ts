import type { Channel, LimitMeasure } from "@otp/contracts";
import type { Tables } from "../schema.js";
import { type Query, qualifiedName, schemaOf, statement } from "./statement.js";

/** A limit rule with the measure it counts: at most `rate` OTPs in any `minutes`-minute window. */
export interface MeasuredRule {
  readonly measure: LimitMeasure;
  readonly minutes: number;
  readonly rate: number;
}

export interface LockRulesParams {
  readonly channel: Channel;
  /** Undefined: no ip lock (the request has no ip, or its ip rules do not apply). */
  readonly ip: string | undefined;
  /** The target's limit key: the canonical target, or an email's limit key (`OTP_EMAIL_CANONICAL`). */
  readonly target: string;
}

export interface InsertRulesParams {
  readonly channel: Channel;
  readonly measure: LimitMeasure;
  /** The rules in their order, as parallel arrays. */
  readonly minutes: readonly number[];
  readonly rates: readonly number[];
}

/** The statements of the `limit_rule` table, and the advisory locks that serialise its readers and writers. */
export function limitRuleSql({ limitRule: table }: Tables) {
  const limitRule = qualifiedName(table);
  const schema = schemaOf(table);
  /** The advisory lock key of one measure value. Ip keys are always locked before target keys. */
  const limitKey = (channel: Channel, measure: LimitMeasure, value: string) =>
    `otp:${schema}:limit:${channel}:${measure}:${value}`;

  const rulesAndLocks = rulesAndLocksStatement(limitRule);
  return {
    /** See {@link rulesAndLocksStatement}; read the rules of its row with `rulesOf`. */
    lockAndReadRules(params: LockRulesParams): Query {
      return rulesAndLocks({
        channel: params.channel,
        ipKey: params.ip === undefined ? null : limitKey(params.channel, "ip", params.ip),
        targetKey: limitKey(params.channel, "target", params.target),
      });
    },

    /** The rules of `lockAndReadRules`' row: ip rules first, each measure's in its order. */
    rulesOf(row: { rules?: unknown } | undefined): MeasuredRule[] {
      const rules = (row?.rules ?? []) as [LimitMeasure, number, number][];
      return rules.map(([measure, minutes, rate]) => ({ measure, minutes, rate }));
    },

    /** `GET /limit/{channel}`. Rows: `measure`, `minutes`, `rate`, each measure's in its order. */
    selectRules: statement<{ channel: Channel }>(
      ["channel"],
      (p) => `SELECT measure, minutes, rate FROM ${limitRule} WHERE channel = ${p.channel} ORDER BY measure, position`,
    ),

    /**
     * Serialises changes to one channel's rules until the transaction ends: without it two
     * replacements of the same measure could both delete the old rows and then collide on
     * inserting their new ones.
     */
    lockChannelRules(params: { channel: Channel }): Query {
      return lockChannel({ key: `otp:${schema}:limit-rules:${params.channel}` });
    },

    deleteRules: statement<{ channel: Channel; measure: LimitMeasure }>(
      ["channel", "measure"],
      (p) => `DELETE FROM ${limitRule} WHERE channel = ${p.channel} AND measure = ${p.measure}`,
    ),

    insertRules: statement<InsertRulesParams>(
      ["channel", "measure", "minutes", "rates"],
      (p) => `INSERT INTO ${limitRule} (channel, measure, position, minutes, rate)
         SELECT ${p.channel}, ${p.measure}, r.ord - 1, r.minutes, r.rate
         FROM unnest(${p.minutes}::int[], ${p.rates}::int[]) WITH ORDINALITY AS r(minutes, rate, ord)`,
    ),
  };
}

/**
 * Reads the channel's rules and takes the locks in one round trip. The locks are taken only for
 * measures that have rules (and the ip lock only when there is an ip to lock); the select list is
 * evaluated left to right, so the ip lock always comes first and two requests cannot wait for
 * each other in opposite orders. Held until the transaction ends.
 */
function rulesAndLocksStatement(limitRule: string) {
  return statement<{ channel: Channel; ipKey: string | null; targetKey: string }>(
    ["channel", "ipKey", "targetKey"],
    (p) => `WITH r AS (SELECT measure, position, minutes, rate FROM ${limitRule} WHERE channel = ${p.channel})
SELECT
  coalesce((SELECT json_agg(json_build_array(measure, minutes, rate) ORDER BY measure, position) FROM r), '[]') AS rules,
  CASE WHEN ${p.ipKey}::text IS NOT NULL AND EXISTS (SELECT 1 FROM r WHERE measure = 'ip')
    THEN pg_advisory_xact_lock(hashtextextended(${p.ipKey}::text, 0)) END AS ip_locked,
  CASE WHEN EXISTS (SELECT 1 FROM r WHERE measure = 'target')
    THEN pg_advisory_xact_lock(hashtextextended(${p.targetKey}::text, 0)) END AS target_locked`,
  );
}

const lockChannel = statement<{ key: string }>(
  ["key"],
  (p) => `SELECT pg_advisory_xact_lock(hashtextextended(${p.key}, 0))`,
);

export type LimitRuleSql = ReturnType<typeof limitRuleSql>;
