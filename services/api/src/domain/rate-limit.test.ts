import { tableNames } from "@otp/db";
import { describe, expect, it } from "vitest";
import {
  countQuery,
  cutoffsOf,
  leavingRank,
  type MeasuredRule,
  parseRules,
  refusalOf,
  secondsUntilLeaving,
  violations,
  windowCounts,
} from "./rate-limit.js";

const now = new Date("2030-01-01T12:00:00.000Z");
const minutesAgo = (m: number) => new Date(now.getTime() - m * 60_000);
const rules: MeasuredRule[] = [
  { measure: "ip", minutes: 10, rate: 3 },
  { measure: "ip", minutes: 60, rate: 10 },
  { measure: "target", minutes: 10, rate: 1 },
];

describe("rate limit arithmetic", () => {
  it("reads the rules as the statement returns them", () => {
    expect(parseRules([["ip", 10, 3]])).toEqual([{ measure: "ip", minutes: 10, rate: 3 }]);
    expect(parseRules([])).toEqual([]);
  });

  it("computes one cutoff per rule from the injected now", () => {
    expect(cutoffsOf(rules, now)).toEqual([minutesAgo(10), minutesAgo(60), minutesAgo(10)]);
  });

  it("pairs the counting row with the rules: ip columns i*, target columns t*", () => {
    const row = { in0: 3, io0: minutesAgo(4), in1: 5, io1: minutesAgo(50), tn0: 0, to0: null };
    const counts = windowCounts(rules, row);
    expect(counts.map((c) => [c.rule.measure, c.count])).toEqual([
      ["ip", 3],
      ["ip", 5],
      ["target", 0],
    ]);
    expect(violations(counts).map((v) => v.rule)).toEqual([rules[0]]);
  });

  it("a window is broken when one more would exceed the rate", () => {
    const at = (count: number) => violations([{ rule: rules[0] as MeasuredRule, count, oldest: now }]).length;
    expect(at(2)).toBe(0);
    expect(at(3)).toBe(1);
    expect(at(7)).toBe(1);
  });

  it("the rank of the OTP whose leaving frees a place", () => {
    const rule = { measure: "target", minutes: 10, rate: 2 } as const;
    expect(leavingRank({ rule, count: 2, oldest: now })).toBe(1);
    expect(leavingRank({ rule, count: 3, oldest: now })).toBe(2);
  });

  it("Retry-After rounds up and is at least one second", () => {
    expect(secondsUntilLeaving(minutesAgo(4), 10, now)).toBe(360);
    expect(secondsUntilLeaving(new Date(now.getTime() - 599_500), 10, now)).toBe(1);
    expect(secondsUntilLeaving(minutesAgo(11), 10, now)).toBe(1);
  });

  it("names the rule in the seed's words", () => {
    const ip = { rule: rules[0] as MeasuredRule, count: 3, oldest: now };
    expect(refusalOf("sms", ip, 5)).toEqual({
      code: "ip_limit",
      message: "IP limit has been reached: 3 per 10 minutes",
      retryAfterSeconds: 5,
    });
    const chat = { rule: { measure: "target", minutes: 1, rate: 1 } as MeasuredRule, count: 1, oldest: now };
    expect(refusalOf("telegram", chat, 1)).toMatchObject({
      code: "chat_id_limit",
      message: "Chat id limit has been reached: 1 per 1 minute",
    });
    expect(refusalOf("call", chat, 1).code).toBe("phone_limit");
    expect(refusalOf("email", chat, 1).code).toBe("email_limit");
  });

  it("reads back every window the counting query names", () => {
    const { text } = countQuery(tableNames("public"), rules, { channel: "sms", ip: "1.2.3.4", target: "7701" }, []);
    const aliases = [...text.matchAll(/ AS (\w+)/g)].map((m) => m[1] as string).filter((a) => a.length > 1);
    expect(aliases).toHaveLength(2 * rules.length);
    // A row holding a distinct count under each name the query gives: windowCounts must find them all.
    const row = Object.fromEntries(aliases.map((alias, i) => [alias, alias.includes("o") ? minutesAgo(i) : i + 1]));
    const counts = windowCounts(rules, row);
    expect(new Set(counts.map((c) => c.count)).size).toBe(rules.length);
    for (const c of counts) {
      expect(c.count).toBeGreaterThan(0);
      expect(c.oldest).toBeInstanceOf(Date);
    }
  });

  it("binds only the parameters its statement uses", () => {
    const t = tableNames("otp_schema");
    const targetOnly = countQuery(t, [rules[2] as MeasuredRule], { channel: "sms", target: "7701" }, [minutesAgo(10)]);
    expect(targetOnly.values).toEqual(["sms", "7701", minutesAgo(10)]);
    expect(targetOnly.text).toContain('"otp_schema"."otp"');
    expect(targetOnly.text).not.toContain("$4");
    const both = countQuery(t, rules, { channel: "sms", ip: "1.2.3.4", target: "7701" }, cutoffsOf(rules, now));
    expect(both.values).toHaveLength(6);
    expect(both.text).toContain("ip = $2");
    expect(both.text).toContain("target = $3");
    expect(both.text).toContain("$6::timestamptz");
  });
});
