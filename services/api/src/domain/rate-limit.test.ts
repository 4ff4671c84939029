import { DEFAULT_PHONE_RULES, type LimitMeasure } from "@otp/contracts";
import { createSql, createTables } from "@otp/db";
import type pg from "pg";
import { describe, expect, it } from "vitest";
import { ApiError } from "../api-error.js";
import { checkLimits, type LimitedRequest } from "./rate-limit.js";

/**
 * The limiter without PostgreSQL: a client that answers its three statements from a scenario (the
 * channel's rules, what each window holds, the OTP a lowered rule waits for) and records what it
 * was sent. The integration tests (test/limits.test.ts) run the same statements for real.
 */

const now = new Date("2030-01-01T12:00:00.000Z");
const ago = (ms: number) => new Date(now.getTime() - ms);
const minutesAgo = (m: number) => ago(m * 60_000);
/** A cutoff as the statement sends it: ISO text (packages/db/src/sql/statement.ts). */
const sentMinutesAgo = (m: number) => minutesAgo(m).toISOString();
const sql = createSql(createTables("public"));

interface Scenario {
  readonly rules: readonly [LimitMeasure, number, number][];
  /** What each rule's window holds, in the order of `rules` (ip rules first). */
  readonly windows?: readonly { count: number; oldest: Date | null }[];
  /** The answer to "the n-th oldest OTP of a window". */
  readonly nth?: Date;
}

interface Sent {
  readonly text: string;
  readonly values: unknown[];
}

function clientFor(scenario: Scenario): { client: pg.ClientBase; sent: Sent[] } {
  const sent: Sent[] = [];
  const answer = (text: string): unknown[] => {
    if (text.startsWith("WITH r AS")) return [{ rules: scenario.rules }];
    if (text.startsWith("SELECT created_at")) return scenario.nth ? [{ created_at: scenario.nth }] : [];
    // The counting row: the two columns of each window, under the names the statement gives them.
    const aliases = [...text.matchAll(/ AS (\w+)/g)].map((m) => m[1] as string).filter((a) => a.length > 1);
    const row: Record<string, unknown> = {};
    scenario.windows?.forEach((w, i) => {
      row[aliases[2 * i] as string] = w.count;
      row[aliases[2 * i + 1] as string] = w.oldest;
    });
    return [row];
  };
  const client = {
    query: async (query: Sent | string, values: unknown[] = []) => {
      const { text, values: sentValues } = typeof query === "string" ? { text: query, values } : query;
      sent.push({ text, values: sentValues });
      return { rows: answer(text) };
    },
  };
  return { client: client as unknown as pg.ClientBase, sent };
}

async function check(scenario: Scenario, request: Partial<LimitedRequest> = {}) {
  const { client, sent } = clientFor(scenario);
  const result = await checkLimits(
    client,
    { sql, clock: () => now, targets: { phone: DEFAULT_PHONE_RULES, emailCanonical: false } },
    { channel: "sms", target: "7701", ip: "1.2.3.4", ...request },
  );
  return { ...result, sent };
}

const IP_10_3: [LimitMeasure, number, number] = ["ip", 10, 3];
const IP_60_10: [LimitMeasure, number, number] = ["ip", 60, 10];
const TARGET_10_1: [LimitMeasure, number, number] = ["target", 10, 1];

describe("checkLimits", () => {
  it("a channel without rules: the locks statement only, no refusal", async () => {
    const result = await check({ rules: [] });
    expect(result).toMatchObject({ channelHasRules: false, now, refusal: undefined });
    expect(result.sent).toHaveLength(1);
  });

  it("locks the ip key before the target key, and no ip key without an ip", async () => {
    const withIp = await check({ rules: [] });
    expect(withIp.sent[0]?.values).toEqual([
      "sms",
      "otp:public:limit:sms:ip:1.2.3.4",
      "otp:public:limit:sms:target:7701",
    ]);
    const withoutIp = await check({ rules: [] }, { ip: undefined });
    expect(withoutIp.sent[0]?.values).toEqual(["sms", null, "otp:public:limit:sms:target:7701"]);
  });

  it("counts every window in one statement with cutoffs from the injected clock, ip windows first", async () => {
    const result = await check({
      rules: [IP_10_3, IP_60_10, TARGET_10_1],
      windows: [
        { count: 2, oldest: minutesAgo(4) },
        { count: 9, oldest: minutesAgo(50) },
        { count: 0, oldest: null },
      ],
    });
    expect(result.refusal).toBeUndefined();
    expect(result.channelHasRules).toBe(true);
    expect(result.sent).toHaveLength(2);
    expect(result.sent[1]?.values).toEqual([
      "sms",
      "1.2.3.4",
      "7701",
      sentMinutesAgo(10),
      sentMinutesAgo(60),
      sentMinutesAgo(10),
    ]);
  });

  it("binds only the parameters its statement uses", async () => {
    const result = await check({ rules: [TARGET_10_1], windows: [{ count: 0, oldest: null }] });
    expect(result.sent[1]?.values).toEqual(["sms", "7701", sentMinutesAgo(10)]);
    expect(result.sent[1]?.text).toContain("target = $2");
    expect(result.sent[1]?.text).not.toContain("$4");
  });

  it("refuses when one more would exceed a rate, naming the first broken rule in the original product's words", async () => {
    const result = await check({
      rules: [IP_10_3, TARGET_10_1],
      windows: [
        { count: 3, oldest: minutesAgo(4) },
        { count: 1, oldest: minutesAgo(1) },
      ],
    });
    expect(result.refusal).toEqual({
      code: "ip_limit",
      message: "IP limit has been reached: 3 per 10 minutes",
      // The ip window has room again in 6 minutes, the target window in 9: both must have.
      retryAfterSeconds: 540,
    });
  });

  it("Retry-After rounds up and is at least one second", async () => {
    const at = async (oldest: Date) =>
      (await check({ rules: [TARGET_10_1], windows: [{ count: 1, oldest }] })).refusal?.retryAfterSeconds;
    expect(await at(minutesAgo(4))).toBe(360);
    expect(await at(ago(599_500))).toBe(1);
    expect(await at(ago(540_001))).toBe(60);
  });

  it("a window over its rate (the rule was lowered) waits for the OTP whose leaving frees a place", async () => {
    const result = await check({
      rules: [["target", 10, 2]],
      windows: [{ count: 4, oldest: minutesAgo(9) }],
      nth: minutesAgo(5),
    });
    // Of 4 OTPs under a rate of 2, the 3rd oldest must leave: offset 2.
    expect(result.sent[2]?.values).toEqual(["sms", "7701", sentMinutesAgo(10), 2]);
    expect(result.refusal?.retryAfterSeconds).toBe(300);
  });

  it("names each channel's target", async () => {
    const refusal = async (channel: LimitedRequest["channel"]) =>
      (await check({ rules: [["target", 1, 1]], windows: [{ count: 1, oldest: now }] }, { channel })).refusal;
    expect(await refusal("telegram")).toMatchObject({
      code: "chat_id_limit",
      message: "Chat id limit has been reached: 1 per 1 minute",
    });
    expect((await refusal("sms"))?.message).toBe("Phone limit has been reached: 1 per 1 minute");
    expect((await refusal("call"))?.code).toBe("phone_limit");
    expect((await refusal("email"))?.code).toBe("email_limit");
  });

  it("a channel with ip rules needs an ip, unless its ip rules are ignored", async () => {
    const rules = { rules: [IP_10_3, TARGET_10_1], windows: [{ count: 0, oldest: null }] };
    await expect(check(rules, { ip: undefined })).rejects.toThrow(ApiError);
    await expect(check(rules, { ip: undefined })).rejects.toThrow(/"ip".*this channel has ip limits/);
    const ignored = await check(rules, { ignoreIpRules: true });
    expect(ignored.channelHasRules).toBe(true);
    expect(ignored.sent[0]?.values[1]).toBeNull();
    expect(ignored.sent[1]?.values).toEqual(["sms", "7701", sentMinutesAgo(10)]);
  });
});
