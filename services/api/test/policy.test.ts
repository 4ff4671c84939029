import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "./support/harness.js";

const db = useTestDatabase();
const broker = useTestBroker("api-policy");
let api: TestApi;

beforeAll(async () => {
  api = await startTestApi({ pg: db(), broker });
});
afterAll(() => api?.close());

const OFF = {
  mode: "off",
  countries: { allow: [], deny: [] },
  prefixes: { deny: [] },
  safelist: [],
  prefix_limits: [],
  country_limits: [],
  budget: [],
  conversion_guard: null,
};
beforeEach(async () => {
  // Every test's windows (10 minutes at most) start empty.
  api.clock.advance(60 * 60_000);
  for (const channel of ["sms", "call"]) await api.call("POST", `/policy/${channel}`, OFF);
  await api.call("POST", "/limit/sms", { ips: [], phones: [] });
});

/** KZ numbers `7701` + 7 digits, each test under prefixes of its own (`77011` + two digits of `block`). */
let counter = 0;
const kz = (block: number) => `77011${String(block).padStart(2, "0")}${String(counter++ % 10000).padStart(4, "0")}`;
const sms = (phone: string, extra: Record<string, unknown> = {}) =>
  api.call("POST", "/sms", { phone, password: "1234", lifetime: 300, message: "Code {password}", ...extra });
const policy = (body: unknown, channel = "sms") => api.call("POST", `/policy/${channel}`, body);
/** The value of one metric series now. */
const metric = async (series: string) => {
  const text = await (await api.app.request("/metrics")).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
};
const decisions = (rule: string, decision: string) =>
  metric(`otp_policy_decisions_total{channel="sms",rule="${rule}",decision="${decision}"}`);
const statusOf = async (created: { body: Record<string, unknown> }) =>
  (await api.call("GET", `/otp/${(created.body.content as { id: string }).id}`)).body.content as Record<
    string,
    unknown
  >;

describe("POST /policy/{channel}, GET /policy/{channel}", () => {
  it("starts off and empty; each key present replaces that part, down to countries.allow; absent ones are kept", async () => {
    expect((await api.call("GET", "/policy/call")).body).toEqual({ status: true, content: OFF });
    const first = await policy({
      mode: "monitor",
      countries: { allow: ["kz"], deny: ["RU"] },
      budget: [{ minutes: 60, rate: 5 }],
    });
    expect(first.body).toEqual({
      status: true,
      content: {
        ...OFF,
        mode: "monitor",
        countries: { allow: ["KZ"], deny: ["RU"] },
        budget: [{ minutes: 60, rate: 5 }],
      },
    });
    await policy({ countries: { deny: [] }, conversion_guard: { min_sent: 5 } });
    const read = (await api.call("GET", "/policy/sms")).body.content as Record<string, unknown>;
    expect(read).toMatchObject({
      mode: "monitor",
      countries: { allow: ["KZ"], deny: [] },
      budget: [{ minutes: 60, rate: 5 }],
    });
    expect(read.conversion_guard).toEqual({
      prefix_digits: 6,
      window_minutes: 60,
      min_sent: 5,
      min_conversion: 0.2,
      lag_seconds: 180,
      block_minutes: 60,
      max_block_minutes: 1440,
    });
    await policy({ conversion_guard: null });
    expect(
      ((await api.call("GET", "/policy/sms")).body.content as Record<string, unknown>).conversion_guard,
    ).toBeNull();
    // call is another policy; email and telegram have none.
    expect((await api.call("GET", "/policy/call")).body.content).toEqual(OFF);
    expect((await api.call("GET", "/policy/email")).status).toBe(404);
  });

  it("a rejected change changes nothing and names the problem", async () => {
    await policy({ mode: "monitor" });
    for (const [body, message] of [
      [{ mode: "on" }, '"mode" must be off, monitor or enforce'],
      [{ mode: "enforce", countries: { allow: ["Kazakhstan"] } }, "ISO 3166"],
      [
        { mode: "enforce", prefix_limits: [{ digits: 6, minutes: 60 }] },
        '"rate" parameter must be set (at prefix_limits[0].rate)',
      ],
      [{ mode: "enforce", budgets: [] }, "budgets"],
    ] as const) {
      const answer = await policy(body);
      expect(answer.status).toBe(400);
      expect(answer.body.status_code).toBe("validation");
      expect(answer.body.message).toContain(message);
    }
    expect(((await api.call("GET", "/policy/sms")).body.content as { mode: string }).mode).toBe("monitor");
  });
});

describe("mode off", () => {
  it("changes nothing for seed clients: every list set, nothing refused, no policy on GET /otp/{id}", async () => {
    const set = await policy({
      countries: { allow: ["UZ"] },
      prefixes: { deny: ["7701"] },
      budget: [{ minutes: 60, rate: 1 }],
    });
    expect(set.status).toBe(200);
    const created = await sms(kz(1));
    expect(created.status).toBe(200);
    expect((await sms(kz(1))).status).toBe(200);
    expect(await statusOf(created)).not.toHaveProperty("policy");
  });
});

describe("enforce: the lists", () => {
  it("403 destination_blocked for a country not allowed or denied, naming it; no Retry-After", async () => {
    await policy({ mode: "enforce", countries: { allow: ["KZ", "UZ"] } });
    const ru = await sms("79161234567");
    expect(ru.status).toBe(403);
    expect(ru.body).toEqual({
      status: false,
      status_code: "destination_blocked",
      message: "Country RU is not allowed for sms",
    });
    expect(ru.headers.get("retry-after")).toBeNull();
    expect((await sms("998901234567")).status).toBe(200);
    expect((await sms(kz(2))).status).toBe(200);
    // An empty allow list allows every country; deny still refuses.
    await policy({ countries: { allow: [], deny: ["UZ"] } });
    expect((await sms("79161234567")).status).toBe(200);
    expect((await sms("998901234567")).body).toMatchObject({ message: "Country UZ is not allowed for sms" });
  });

  it("403 destination_blocked for a denied prefix; the safelist beats every rule; call has its own policy", async () => {
    const blocked = kz(3);
    await policy({ mode: "enforce", prefixes: { deny: [blocked.slice(0, 7)] }, safelist: [`+${kz(3)}`] });
    const answer = await sms(blocked);
    expect(answer.status).toBe(403);
    expect(answer.body.message).toBe(`Prefix ${blocked.slice(0, 7)} is denied for sms`);
    const safe = `${blocked.slice(0, 7)}${String(counter - 1 + 0).padStart(4, "0")}`;
    const safelisted = await sms(safe);
    expect(safelisted.status).toBe(200);
    expect((await statusOf(safelisted)).policy).toEqual({ decision: "allow", rule: "safelist" });
    expect((await api.call("POST", "/call", { phone: blocked, password: "1", lifetime: 60 })).status).toBe(200);
  });

  it("a refusal never quotes a number's last four digits, however long the rule's prefix", async () => {
    const whole = kz(4);
    await policy({ mode: "enforce", prefixes: { deny: [whole] } });
    expect((await sms(whole)).body.message).toBe(`Prefix ${whole.slice(0, 7)}… is denied for sms`);
    await policy({ prefixes: { deny: [] }, prefix_limits: [{ digits: 15, minutes: 5, rate: 1 }] });
    const phone = kz(5);
    expect((await sms(phone)).status).toBe(200);
    const refused = await sms(phone);
    expect(refused.body).toMatchObject({
      status_code: "prefix_limit",
      message: `Prefix limit has been reached for ${phone.slice(0, 7)}…: 1 per 5 minutes`,
    });
    expect(JSON.stringify(refused.body)).not.toContain(phone);
    await policy({ prefix_limits: [] });
  });
});

describe("enforce: the windows", () => {
  it("429 budget_exceeded with Retry-After, over the codes already in the table", async () => {
    await sms(kz(4)); // accepted while the policy is off: counted all the same
    await policy({ mode: "enforce", budget: [{ minutes: 10, rate: 3 }] });
    expect((await sms(kz(4))).status).toBe(200);
    api.clock.advance(60_000);
    expect((await sms(kz(4))).status).toBe(200);
    const refused = await sms(kz(5));
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({
      status: false,
      status_code: "budget_exceeded",
      message: "Budget of sms has been reached: 3 per 10 minutes",
    });
    // The first of the three leaves the window in 9 minutes.
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(530);
    expect(Number(refused.headers.get("retry-after"))).toBeLessThanOrEqual(540);
    api.clock.advance(10 * 60_000);
  });

  it('429 country_limit per country ("*" each separately, or one named)', async () => {
    await policy({
      mode: "enforce",
      country_limits: [
        { country: "*", minutes: 5, rate: 2 },
        { country: "UZ", minutes: 5, rate: 1 },
      ],
    });
    expect((await sms(kz(6))).status).toBe(200);
    expect((await sms(kz(6))).status).toBe(200);
    const third = await sms(kz(6));
    expect(third.status).toBe(429);
    expect(third.body).toMatchObject({
      status_code: "country_limit",
      message: "Country limit has been reached for KZ: 2 per 5 minutes",
    });
    expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await sms("998901234567")).status).toBe(200);
    expect((await sms("998901234568")).body).toMatchObject({
      message: "Country limit has been reached for UZ: 1 per 5 minutes",
    });
    expect((await sms("79161234567")).status).toBe(200);
    api.clock.advance(5 * 60_000);
  });

  it("429 prefix_limit per prefix of its digits; another prefix is counted apart", async () => {
    await policy({ mode: "enforce", prefix_limits: [{ digits: 7, minutes: 5, rate: 2 }] });
    expect((await sms(kz(7))).status).toBe(200);
    expect((await sms(kz(7))).status).toBe(200);
    const refused = await sms(kz(7));
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({
      status_code: "prefix_limit",
      message: "Prefix limit has been reached for 7701107: 2 per 5 minutes",
    });
    expect(refused.headers.get("retry-after")).not.toBeNull();
    expect((await sms(kz(8))).status).toBe(200);
  });

  it("the policy comes before the channel's /limit rules", async () => {
    const phone = kz(9);
    await api.call("POST", "/limit/sms", { phones: [{ minutes: 10, rate: 1 }] });
    await policy({ mode: "enforce", prefix_limits: [{ digits: 7, minutes: 10, rate: 1 }] });
    expect((await sms(phone)).status).toBe(200);
    expect((await sms(phone)).body.status_code).toBe("prefix_limit");
    await policy({ prefix_limits: [] });
    expect((await sms(phone)).body.status_code).toBe("phone_limit");
  });
});

describe("monitor", () => {
  it("accepts everything and records what enforce would have done, on GET /otp/{id} and in the metric", async () => {
    const before = {
      countries: await decisions("countries", "would_block"),
      prefix: await decisions("prefix_limits", "would_block"),
      allow: await decisions("none", "allow"),
    };
    await policy({ mode: "monitor", countries: { deny: ["RU"] }, prefix_limits: [{ digits: 7, minutes: 5, rate: 1 }] });
    const ru = await sms("79031234567");
    expect(ru.status).toBe(200);
    expect((await statusOf(ru)).policy).toEqual({ decision: "would_block", rule: "countries" });
    const first = await sms(kz(10));
    expect((await statusOf(first)).policy).toEqual({ decision: "allow" });
    const second = await sms(kz(10));
    expect(second.status).toBe(200);
    expect((await statusOf(second)).policy).toEqual({ decision: "would_block", rule: "prefix_limits" });
    expect(await decisions("countries", "would_block")).toBe(before.countries + 1);
    expect(await decisions("prefix_limits", "would_block")).toBe(before.prefix + 1);
    expect(await decisions("none", "allow")).toBe(before.allow + 1);
  });

  it("enforce counts its refusals as block", async () => {
    const blocks = await decisions("countries", "block");
    const refused = await metric('otp_refused_total{channel="sms",reason="destination_blocked"}');
    await policy({ mode: "enforce", countries: { deny: ["RU"] } });
    await sms("79031234567");
    expect(await decisions("countries", "block")).toBe(blocks + 1);
    expect(await metric('otp_refused_total{channel="sms",reason="destination_blocked"}')).toBe(refused + 1);
  });
});
