import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "./support/harness.js";

const db = useTestDatabase();
const broker = useTestBroker("api-policy-race");
let api: TestApi;
let replica: TestApi;

beforeAll(async () => {
  api = await startTestApi({ pg: db(), broker, env: { PG_POOL_MAX: "20" } });
  // A second replica on the same database and the same time: counts must hold across replicas.
  replica = await startTestApi({ pg: db(), broker, clock: api.clock, env: { PG_POOL_MAX: "20" } });
});
afterAll(async () => {
  await api?.close();
  await replica?.close();
});
beforeEach(() => api.clock.advance(24 * 60 * 60_000));

let counter = 0;
const phone = (prefix = "77013") => `${prefix}${String(counter++).padStart(11 - prefix.length, "0")}`;
const sms = (target: TestApi, to: string) =>
  target.call("POST", "/sms", { phone: to, password: "1234", lifetime: 300, message: "Code {password}" });
/** Both replicas' caches hold the policy just set (each reads it at most a second late). */
const setPolicy = async (body: unknown) => {
  await api.call("POST", "/policy/sms", body);
  await replica.call("POST", "/policy/sms", {});
};
const parallel = async (n: number, create: (i: number) => Promise<{ status: number; body?: unknown }>) => {
  const answers = await Promise.all(Array.from({ length: n }, (_, i) => create(i)));
  const count = (status: number) => answers.filter((a) => a.status === status).length;
  return { accepted: count(200), refused: count(429), other: answers.length - count(200) - count(429) };
};

describe("counts under concurrency, across replicas", () => {
  it("200 parallel creates against a budget of 50: exactly 50 accepted", async () => {
    await setPolicy({ mode: "enforce", budget: [{ minutes: 60, rate: 50 }] });
    const result = await parallel(200, (i) => sms(i % 2 ? api : replica, phone(`7701${4 + (i % 5)}`)));
    expect(result).toEqual({ accepted: 50, refused: 150, other: 0 });
    await setPolicy({ budget: [] });
  });

  it("a budget far above the connections in flight: taken shared while far from full, exclusively near it; still exact", async () => {
    const { rows } = await api.pool.query<{ n: number }>("SELECT current_setting('max_connections')::int AS n");
    const rate = (rows[0]?.n ?? 100) + 40;
    await setPolicy({
      mode: "enforce",
      budget: [{ minutes: 60, rate }],
      country_limits: [{ country: "*", minutes: 60, rate }],
    });
    const result = await parallel(2 * rate, (i) => sms(i % 2 ? api : replica, phone(`7701${4 + (i % 5)}`)));
    expect(result).toEqual({ accepted: rate, refused: rate, other: 0 });
    await setPolicy({ budget: [], country_limits: [] });
  });

  it("100 parallel creates to one prefix under a prefix limit of 7 and to one country under 12: exact", async () => {
    await setPolicy({ mode: "enforce", prefix_limits: [{ digits: 6, minutes: 60, rate: 7 }] });
    expect(await parallel(100, (i) => sms(i % 2 ? api : replica, phone("770190")))).toEqual({
      accepted: 7,
      refused: 93,
      other: 0,
    });
    api.clock.advance(2 * 60 * 60_000); // the 7 above are KZ codes too
    await setPolicy({ prefix_limits: [], country_limits: [{ country: "*", minutes: 60, rate: 12 }] });
    expect(await parallel(100, (i) => sms(i % 2 ? api : replica, phone(`7702${i % 10}`)))).toEqual({
      accepted: 12,
      refused: 88,
      other: 0,
    });
    await setPolicy({ country_limits: [] });
  });

  it("with lag_seconds 0, 100 parallel creates to one prefix: exactly min_sent accepted", async () => {
    await setPolicy({ mode: "enforce", conversion_guard: { prefix_digits: 6, min_sent: 9, lag_seconds: 0 } });
    expect(await parallel(100, (i) => sms(i % 2 ? api : replica, phone("770191")))).toEqual({
      accepted: 9,
      refused: 91,
      other: 0,
    });
    await setPolicy({ conversion_guard: null });
  });
});

describe("round trips", () => {
  /**
   * The statements one create sends to PostgreSQL, counted on the client that ran the create's
   * statement (the relay, stopped here, and the outbox's deletes use clients of their own).
   */
  async function statementsOf(create: () => Promise<unknown>): Promise<string[]> {
    const sent: { client: unknown; what: string }[] = [];
    const original = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const config = args[0] as string | { name?: string; text: string };
      const what = typeof config === "string" ? config : (config.name ?? config.text.split("\n")[0] ?? "");
      sent.push({ client: this, what });
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof original;
    try {
      await create();
    } finally {
      pg.Client.prototype.query = original;
    }
    const creating = sent.find((s) => s.what.startsWith("otp_issue_"))?.client;
    return sent.filter((s) => s.client === creating && !s.what.includes("outbox")).map((s) => s.what);
  }

  it("mode off: one statement; enforce, accepted, no /limit rules: BEGIN, the policy's, the create's, COMMIT", async () => {
    await setPolicy({
      mode: "off",
      budget: [{ minutes: 60, rate: 1000 }],
      prefix_limits: [{ digits: 6, minutes: 60, rate: 100 }],
    });
    await api.relay.stop(1000);
    await sms(api, phone("770192")); // the cache is fresh
    const off = await statementsOf(() => sms(api, phone("770192")));
    expect(off).toEqual([expect.stringMatching(/^otp_issue_/)]);

    await api.call("POST", "/policy/sms", {
      mode: "enforce",
      countries: { allow: ["KZ"] },
      country_limits: [{ country: "*", minutes: 60, rate: 1000 }],
      conversion_guard: {},
    });
    await sms(api, phone("770192")); // learns the channel has no /limit rules
    const enforce = await statementsOf(() => sms(api, phone("770192")));
    expect(enforce).toEqual([
      "BEGIN",
      expect.stringMatching(/^otp_policy_counts_/),
      expect.stringMatching(/^otp_issue_recorded_/),
      "COMMIT",
    ]);
    await setPolicy({ mode: "off" });
  });
});
