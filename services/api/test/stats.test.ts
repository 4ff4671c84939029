import { useTestBroker } from "@otp/broker/testing";
import { createSql, createTables } from "@otp/db";
import { useTestDatabase } from "@otp/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readStats } from "../src/domain/stats.js";
import { STATS_AT_ONCE } from "../src/routes/stats.js";
import { startTestApi, type TestApi } from "./support/harness.js";

/**
 * GET /stats (docs/statistics.md) on a scripted scenario: OTPs created through the API, then their
 * times, countries and delivery outcomes set with SQL so that every figure is known exactly, and
 * compared with the figures counted by hand below.
 */

const db = useTestDatabase();
const broker = useTestBroker("api-stats");
let api: TestApi;
let t0: number;
const ids: Record<string, string> = {};

const MIN = 60_000;
const HOUR = 60 * MIN;

/**
 * The scenario. `at`: minutes before t0 when it was created; `verifiedAfter`: seconds from create
 * to verification; `test`: a test target's code. Targets are chosen for their 6-digit prefixes.
 */
const SCENARIO = [
  { key: "s1", channel: "sms", target: "77010012341", country: "KZ", at: 180, verifiedAfter: 10, status: "delivered" },
  { key: "s2", channel: "sms", target: "77010012342", country: "KZ", at: 120, verifiedAfter: 30, status: "delivered" },
  { key: "s3", channel: "sms", target: "77011112343", country: "KZ", at: 60, status: "failed" },
  { key: "s4", channel: "sms", target: "77012212344", country: "RU", at: 50, verifiedAfter: 50, status: "pending" },
  {
    key: "s5",
    channel: "sms",
    target: "77010012345",
    country: "KZ",
    at: 25 * 60,
    verifiedAfter: 7,
    status: "delivered",
  },
  { key: "c1", channel: "call", target: "77010012346", country: "KZ", at: 30, verifiedAfter: 20, status: "delivered" },
  { key: "c2", channel: "call", target: "77013312347", country: "KZ", at: 10, status: "pending" },
  {
    key: "e1",
    channel: "email",
    target: "one@example.com",
    country: null,
    at: 300,
    verifiedAfter: 5,
    status: "delivered",
  },
  {
    key: "t1",
    channel: "sms",
    target: "77014412348",
    country: "KZ",
    at: 40,
    verifiedAfter: 3,
    status: "delivered",
    test: true,
  },
] as const;

const bodyFor = (channel: string, target: string) =>
  channel === "email"
    ? { email: target, password: "1234", subject: "Code {password}", lifetime: 600 }
    : channel === "call"
      ? { phone: target, password: "1234", lifetime: 600 }
      : { phone: target, password: "1234", lifetime: 600, message: "Code {password}" };

beforeAll(async () => {
  api = await startTestApi({ pg: db(), broker });
  t0 = api.clock.now().getTime();
  for (const row of SCENARIO) {
    const created = await api.call("POST", `/${row.channel}`, bodyFor(row.channel, row.target));
    expect(created.status).toBe(200);
    ids[row.key] = (created.body.content as { id: string }).id;
    const createdAt = new Date(t0 - row.at * MIN);
    const verifiedAfter = "verifiedAfter" in row ? row.verifiedAfter : null;
    await api.pool.query(
      `UPDATE otp SET created_at = $2, expire_at = $2::timestamptz + interval '600 seconds',
         verified_at = $2::timestamptz + make_interval(secs => $3::float8), delivery_status = $4, country = $5, test = $6
       WHERE id = $1`,
      [ids[row.key], createdAt, verifiedAfter, row.status, row.country, "test" in row],
    );
  }
});
afterAll(() => api?.close());

const stats = async (query = "") => {
  const answer = await api.call("GET", `/stats${query}`);
  expect(answer.body).toMatchObject({ status: true });
  return answer.body.content as Record<string, unknown> & { groups: unknown[]; test: unknown[] };
};
/** Statements of this test's database waiting for a lock on `otp` (other files share the server). */
const WAITING_FOR_OTP =
  "SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = 'otp'::regclass" +
  " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";
/** percentile_cont interpolates in floating point: 47.99999999999999 for 48. */
const approx = (n: number) => expect.closeTo(n, 9);
const none = { p50_seconds_to_verify: null, p95_seconds_to_verify: null };

describe("GET /stats", () => {
  it("by channel over the last 24 h: every figure as counted by hand; test targets' codes apart", async () => {
    const content = await stats();
    expect(content).toMatchObject({ channel: null, group_by: "channel", prefix_length: null });
    expect(Date.parse(content.to as string) - Date.parse(content.from as string)).toBe(24 * HOUR);
    expect(content.groups).toEqual([
      // call: c1 verified after 20 s and delivered, c2 pending.
      {
        channel: "call",
        sent: 2,
        delivered: 1,
        failed: 0,
        verified: 1,
        conversion_rate: 0.5,
        p50_seconds_to_verify: 20,
        p95_seconds_to_verify: 20,
      },
      {
        channel: "email",
        sent: 1,
        delivered: 1,
        failed: 0,
        verified: 1,
        conversion_rate: 1,
        p50_seconds_to_verify: 5,
        p95_seconds_to_verify: 5,
      },
      // sms: s1..s4 (s5 is 25 h old); verified after 10, 30 and 50 s: p50 30, p95 30 + 0.9 × 20 = 48.
      {
        channel: "sms",
        sent: 4,
        delivered: 2,
        failed: 1,
        verified: 3,
        conversion_rate: 0.75,
        p50_seconds_to_verify: 30,
        p95_seconds_to_verify: approx(48),
      },
    ]);
    expect(content.test).toEqual([
      {
        channel: "sms",
        sent: 1,
        delivered: 1,
        failed: 0,
        verified: 1,
        conversion_rate: 1,
        p50_seconds_to_verify: 3,
        p95_seconds_to_verify: 3,
      },
    ]);
  });

  it("by country: KZ, RU, then the codes without a country (email)", async () => {
    const content = await stats("?group_by=country");
    expect(content.groups).toEqual([
      // s1, s2, s3, c1, c2; verified after 10, 30 and 20 s: p50 20, p95 20 + 0.9 × 10 = 29.
      {
        country: "KZ",
        sent: 5,
        delivered: 3,
        failed: 1,
        verified: 3,
        conversion_rate: 0.6,
        p50_seconds_to_verify: 20,
        p95_seconds_to_verify: approx(29),
      },
      {
        country: "RU",
        sent: 1,
        delivered: 0,
        failed: 0,
        verified: 1,
        conversion_rate: 1,
        p50_seconds_to_verify: 50,
        p95_seconds_to_verify: 50,
      },
      {
        country: null,
        sent: 1,
        delivered: 1,
        failed: 0,
        verified: 1,
        conversion_rate: 1,
        p50_seconds_to_verify: 5,
        p95_seconds_to_verify: 5,
      },
    ]);
  });

  it("by prefix: the phone channels only, 6 digits by default, or prefix_length", async () => {
    const content = await stats("?group_by=prefix");
    expect(content.prefix_length).toBe(6);
    expect(content.groups).toEqual([
      {
        prefix: "770100",
        sent: 3,
        delivered: 3,
        failed: 0,
        verified: 3,
        conversion_rate: 1,
        p50_seconds_to_verify: 20,
        p95_seconds_to_verify: approx(29),
      },
      { prefix: "770111", sent: 1, delivered: 0, failed: 1, verified: 0, conversion_rate: 0, ...none },
      {
        prefix: "770122",
        sent: 1,
        delivered: 0,
        failed: 0,
        verified: 1,
        conversion_rate: 1,
        p50_seconds_to_verify: 50,
        p95_seconds_to_verify: 50,
      },
      { prefix: "770133", sent: 1, delivered: 0, failed: 0, verified: 0, conversion_rate: 0, ...none },
    ]);
    const sms = await stats("?group_by=prefix&prefix_length=4&channel=sms");
    expect(sms.groups).toEqual([
      {
        prefix: "7701",
        sent: 4,
        delivered: 2,
        failed: 1,
        verified: 3,
        conversion_rate: 0.75,
        p50_seconds_to_verify: 30,
        p95_seconds_to_verify: approx(48),
      },
    ]);
    expect(sms.test).toEqual([expect.objectContaining({ prefix: "7701", sent: 1 })]);
  });

  it("never makes a prefix of a number's last four digits: a group is never one person", async () => {
    const content = await stats("?group_by=prefix&prefix_length=15&channel=sms");
    expect(content.prefix_length).toBe(15);
    const prefixes = [...content.groups, ...content.test].map((g) => (g as { prefix: string }).prefix);
    // The scenario's numbers have 11 digits: 7 of them at most.
    expect(prefixes).toEqual(["7701001", "7701111", "7701221", "7701441"]);
    expect(content.groups).toContainEqual(expect.objectContaining({ prefix: "7701001", sent: 2 }));
  });

  it("keeps the groups that sent the most when there are too many, and says so", async () => {
    const deps = { pool: api.pool, sql: createSql(createTables(api.config.pg.schema)), clock: () => api.clock.now() };
    const input = { group_by: "prefix", prefix_length: 6 } as const;
    const two = await readStats(deps, input, { statementTimeoutMs: 5_000, maxGroups: 2 });
    if ("error" in two) throw new Error(two.error);
    expect(two.truncated).toBe(true);
    // 770100 sent 3; the others 1 each, the first by key wins the tie.
    expect(two.groups.map((g) => [g.prefix, g.sent])).toEqual([
      ["770100", 3],
      ["770111", 1],
    ]);
    const all = await readStats(deps, input, { statementTimeoutMs: 5_000, maxGroups: 4 });
    expect(all).toMatchObject({ truncated: false });
    expect((await stats("?group_by=prefix")).truncated).toBe(false);
  });

  it("answers 503 when the statement takes too long, which PostgreSQL then stops", async () => {
    const deps = { pool: api.pool, sql: createSql(createTables(api.config.pg.schema)), clock: () => api.clock.now() };
    const locker = await api.pool.connect();
    try {
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE otp IN ACCESS EXCLUSIVE MODE");
      const answer = await readStats(deps, {}, { statementTimeoutMs: 300, maxGroups: 10 });
      expect(answer).toEqual({
        error: "The statistics took longer than 0.3 s; ask for a shorter window or one channel",
        code: "unavailable",
      });
    } finally {
      await locker.query("ROLLBACK");
      locker.release();
    }
    expect(
      (
        await api.pool.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%percentile_cont%' AND state = 'active' AND pid <> pg_backend_pid()",
        )
      ).rows[0],
    ).toEqual({ n: 0 });
  });

  it(`runs ${STATS_AT_ONCE} statements at once per process; another is refused with 503 and Retry-After`, async () => {
    const locker = await api.pool.connect();
    let waiting: Promise<{ status: number }>[] = [];
    try {
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE otp IN ACCESS EXCLUSIVE MODE");
      waiting = Array.from({ length: STATS_AT_ONCE }, () => api.call("GET", "/stats"));
      await expect.poll(async () => (await api.pool.query(WAITING_FOR_OTP)).rows[0].n).toBe(STATS_AT_ONCE);
      const refused = await api.call("GET", "/stats");
      expect(refused.status).toBe(503);
      expect(refused.headers.get("retry-after")).toBe("1");
      expect(refused.body).toEqual({
        status: false,
        status_code: "unavailable",
        message: "Other statistics are being computed; try again shortly",
      });
    } finally {
      await locker.query("ROLLBACK");
      locker.release();
    }
    expect((await Promise.all(waiting)).map((a) => a.status)).toEqual(Array(STATS_AT_ONCE).fill(200));
    expect((await api.call("GET", "/stats")).status).toBe(200);
  });

  it("filters by channel", async () => {
    const content = await stats("?channel=call");
    expect(content.channel).toBe("call");
    expect(content.groups).toEqual([expect.objectContaining({ channel: "call", sent: 2 })]);
    expect(content.test).toEqual([]);
  });

  it("takes an explicit window, [from, to), in the query string or a JSON body on the GET", async () => {
    const from = new Date(t0 - 26 * HOUR).toISOString();
    const to = new Date(t0).toISOString();
    const content = await stats(`?from=${from}&to=${to}&channel=sms`);
    expect(content).toMatchObject({ from, to });
    // s5 now counts: verified after 7, 10, 30 and 50 s: p50 20, p95 30 + 0.85 × 20 = 47.
    expect(content.groups).toEqual([
      {
        channel: "sms",
        sent: 5,
        delivered: 3,
        failed: 1,
        verified: 4,
        conversion_rate: 0.8,
        p50_seconds_to_verify: 20,
        p95_seconds_to_verify: approx(47),
      },
    ]);
    // The bounds: s1 was created at exactly t0 − 3 h. With an offset rather than Z, in a JSON body.
    const s1 = t0 - 3 * HOUR;
    const local = (ms: number) => new Date(ms + 5 * HOUR).toISOString().replace("Z", "+05:00");
    const body = (window: object) =>
      api.raw("GET", "/stats", JSON.stringify({ channel: "sms", ...window }), { "Content-Type": "application/json" });
    const fromS1 = await body({ from: local(s1), to: local(s1 + 1) });
    expect(fromS1.json.content).toMatchObject({ groups: [{ channel: "sms", sent: 1 }] });
    const toS1 = await body({ from: local(s1 - HOUR), to: local(s1) });
    expect(toS1.json.content).toMatchObject({ groups: [] });
  });

  it("with only `to`, the window is the 24 h before it; with only `from`, the 24 h after it", async () => {
    const to = new Date(t0 - 24 * HOUR).toISOString();
    const before = await stats(`?to=${to}&channel=sms`);
    expect(before.from).toBe(new Date(t0 - 48 * HOUR).toISOString());
    expect(before.groups).toEqual([expect.objectContaining({ sent: 1, verified: 1 })]); // s5
    const after = await stats(`?from=${new Date(t0 - 2.5 * HOUR).toISOString()}&channel=sms`);
    expect(after.groups).toEqual([expect.objectContaining({ sent: 3 })]); // s2, s3, s4
  });

  it.each([
    ["?from=2025-01-02T00:00:00Z&to=2025-01-01T00:00:00Z", '"from" must be before "to"'],
    ["?from=2025-01-01T00:00:00Z&to=2025-01-01T00:00:00Z", '"from" must be before "to"'],
    ["?from=2025-01-01T00:00:00Z&to=2025-04-02T00:00:01Z", 'the window from "from" to "to" must be at most 90 days'],
    ["?from=2025-01-01T00:00:00", '"from" must be an ISO 8601 date-time with an offset, e.g. 2025-01-31T00:00:00Z'],
    ["?to=yesterday", '"to" must be an ISO 8601 date-time with an offset, e.g. 2025-01-31T00:00:00Z'],
    ["?channel=fax", '"channel" must be one of sms, call, email, telegram'],
    ["?group_by=city", '"group_by" must be one of channel, country, prefix'],
    ["?group_by=prefix&prefix_length=0", '"prefix_length" must be an integer from 1 to 15'],
    ["?group_by=prefix&prefix_length=x", '"prefix_length" must be an integer from 1 to 15'],
    ["?to=1970-01-01T12:00:00Z", 'the window from "from" to "to" must lie between 1970-01-01 and 9999-01-01'],
    ["?from=9999-12-31T12:00:00Z", 'the window from "from" to "to" must lie between 1970-01-01 and 9999-01-01'],
    [
      "?group_by=prefix&channel=email",
      '"group_by" prefix counts the phone channels only: "channel" must be sms or call',
    ],
  ])("refuses %s with 400 validation", async (query, message) => {
    const answer = await api.call("GET", `/stats${query}`);
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ status: false, status_code: "validation", message });
  });

  it("answers exactly 90 days", async () => {
    const answer = await api.call("GET", "/stats?from=2025-01-01T00:00:00Z&to=2025-04-01T00:00:00Z");
    expect(answer.status).toBe(200);
    expect((answer.body.content as { groups: unknown[] }).groups).toEqual([]);
  });
});
