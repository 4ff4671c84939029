import { type Channel, LIMIT_MEASURES, type LimitMeasure } from "@otp/contracts";
import { EMAIL_LIMIT_KEY_SQL, type Tables } from "../schema.js";
import { type Query, qualifiedName, type Statement, statement } from "./statement.js";

/**
 * The limiter's reads of the `otp` table: the accepted OTPs of a channel and a measure value (the
 * requester's ip, or the target) inside windows ending now. The otp table's columns are named like
 * the measures: `ip`, `target`.
 */

/**
 * What the target windows compare with the request's key: the stored target, or, for email under
 * `OTP_EMAIL_CANONICAL=true`, the address without its `+tag` (`EMAIL_LIMIT_KEY_SQL`, served by
 * the partial index `otp_email_limit_key_created_idx`).
 */
export type TargetKey = "target" | "emailLimitKey";

export interface CountWindowsParams {
  readonly channel: Channel;
  /** Unused (and not sent) when there are no ip windows. */
  readonly ip: string | undefined;
  /** The target's limit key: the target itself, or its email limit key (`targetKey`). */
  readonly target: string;
  readonly targetKey: TargetKey;
  /** Where each window starts: one cutoff per window of each measure, from the injected clock. */
  readonly cutoffs: Readonly<Record<LimitMeasure, readonly Date[]>>;
}

/** One window as counted: how many OTPs it holds, and when the oldest of them was accepted. */
export interface WindowCount {
  readonly count: number;
  readonly oldest: Date | null;
}

export interface NthInWindowParams {
  readonly channel: Channel;
  readonly value: string;
  /** For the target measure: what `value` is compared with. */
  readonly targetKey: TargetKey;
  readonly cutoff: Date;
  /** 1 = the oldest. */
  readonly rank: number;
}

/** The alias of a measure's subquery in the counting statement. */
const MEASURE_ALIAS: Readonly<Record<LimitMeasure, string>> = { ip: "i", target: "t" };

/**
 * The names of the `index`-th window's columns of a measure in the counting row: spelt here only,
 * so that the statement that names them and `readCounts` that reads them cannot drift apart.
 */
function windowColumns(measure: LimitMeasure, index: number): { count: string; oldest: string } {
  const alias = MEASURE_ALIAS[measure];
  return { count: `${alias}n${index}`, oldest: `${alias}o${index}` };
}

const cutoffParam = (measure: LimitMeasure, index: number) => `${measure}Cutoff${index}`;

type Shape = Readonly<Record<LimitMeasure, number>> & { readonly targetKey: TargetKey };

/**
 * The condition that picks a measure value's rows. The email limit key repeats the channel as a
 * literal so that the partial index on email rows serves it whatever the plan.
 */
function matching(measure: LimitMeasure, targetKey: TargetKey, channel: string, value: string): string {
  if (measure === "target" && targetKey === "emailLimitKey") {
    return `channel = ${channel} AND channel = 'email' AND ${EMAIL_LIMIT_KEY_SQL} = ${value}`;
  }
  return `channel = ${channel} AND ${measure} = ${value}`;
}

/**
 * One statement that counts, for every window, the accepted OTPs in it and finds the oldest of
 * them: `count(*) FILTER (WHERE created_at > cutoff)` per window over one index range scan per
 * measure. Its text depends on how many windows each measure has (`shape`). Parameters: the
 * channel, the ip (when there are ip windows), the target (when there are target windows), then
 * the cutoffs, ip windows first.
 */
function countingStatement(otp: string, shape: Shape): Statement<Record<string, unknown>> {
  const measures = LIMIT_MEASURES.filter((m) => shape[m] > 0);
  const cutoffs = (m: LimitMeasure) => Array.from({ length: shape[m] }, (_, i) => cutoffParam(m, i));
  return statement<Record<string, unknown>>(["channel", ...measures, ...measures.flatMap(cutoffs)], (p) => {
    const sub = (measure: LimitMeasure) => {
      const bounds = cutoffs(measure).map((name) => `${p[name]}::timestamptz`);
      const columns = bounds.flatMap((cutoff, i) => {
        const names = windowColumns(measure, i);
        return [
          `count(*) FILTER (WHERE created_at > ${cutoff})::int AS ${names.count}`,
          `min(created_at) FILTER (WHERE created_at > ${cutoff}) AS ${names.oldest}`,
        ];
      });
      return `(SELECT ${columns.join(", ")} FROM ${otp}
   WHERE ${matching(measure, shape.targetKey, `${p.channel}`, `${p[measure]}`)} AND created_at > least(${bounds.join(", ")})) AS ${MEASURE_ALIAS[measure]}`;
    };
    return `SELECT * FROM ${measures.map(sub).join(",\n ")}`;
  });
}

/** The OTP of a given rank in a window (1 = the oldest), by its offset. */
function nthStatement(otp: string, measure: LimitMeasure, targetKey: TargetKey) {
  return statement<Omit<NthInWindowParams, "targetKey"> & { offset: number }>(
    ["channel", "value", "cutoff", "offset"],
    (p) =>
      `SELECT created_at FROM ${otp} WHERE ${matching(measure, targetKey, p.channel, p.value)} AND created_at > ${p.cutoff}
     ORDER BY created_at OFFSET ${p.offset} LIMIT 1`,
  );
}

export function otpWindowsSql({ otp: otpTable }: Tables) {
  const otp = qualifiedName(otpTable);
  // One text per shape; a handful of shapes in practice.
  const counting = new Map<string, Statement<Record<string, unknown>>>();
  const countingFor = (shape: Shape) => {
    const key = `${shape.ip}:${shape.target}:${shape.targetKey}`;
    let found = counting.get(key);
    if (!found) {
      found = countingStatement(otp, shape);
      counting.set(key, found);
    }
    return found;
  };
  const nth = {
    ip: nthStatement(otp, "ip", "target"),
    target: {
      target: nthStatement(otp, "target", "target"),
      emailLimitKey: nthStatement(otp, "target", "emailLimitKey"),
    },
  };

  return {
    /** See {@link countingStatement}; read its row with `readCounts`. */
    countWindows(params: CountWindowsParams): Query {
      const { ip, target } = params.cutoffs;
      const named: Record<string, unknown> = { channel: params.channel, ip: params.ip, target: params.target };
      for (const m of LIMIT_MEASURES) {
        for (const [i, cutoff] of params.cutoffs[m].entries()) named[cutoffParam(m, i)] = cutoff;
      }
      return countingFor({ ip: ip.length, target: target.length, targetKey: params.targetKey })(named);
    },

    /** The windows of the row `countWindows` returned for these cutoffs, in their order. */
    readCounts(
      row: Record<string, unknown>,
      cutoffs: CountWindowsParams["cutoffs"],
    ): Record<LimitMeasure, WindowCount[]> {
      const read = (measure: LimitMeasure) =>
        cutoffs[measure].map((_, i) => {
          const names = windowColumns(measure, i);
          return { count: Number(row[names.count] ?? 0), oldest: (row[names.oldest] as Date | null) ?? null };
        });
      return { ip: read("ip"), target: read("target") };
    },

    /**
     * When a window holds more than its rate (the rule was lowered since), the OTP of that rank
     * whose leaving frees a place. Row: `created_at`.
     */
    nthInWindow(measure: LimitMeasure, { targetKey, ...params }: NthInWindowParams): Query {
      const of = measure === "ip" ? nth.ip : nth.target[targetKey];
      return of({ ...params, offset: params.rank - 1 });
    },
  };
}

export type OtpWindowsSql = ReturnType<typeof otpWindowsSql>;
