import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { metricValue } from "@otp/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "./support/harness.js";

/**
 * `GET /target` and `GET /password` answer for codes they were not given a target for, so each is
 * an oracle: their misses are counted (per channel and per ip for /target, globally for /password)
 * and past OTP_LOOKUP_MISSES (10) a minute every lookup is refused with 429 lookup_throttled
 * (docs/security.md, "Guessing").
 */

const db = useTestDatabase();
const broker = useTestBroker("api-lookup-throttle");
let api: TestApi;

beforeAll(async () => {
  api = await startTestApi({ pg: db(), broker, env: { LOG_LEVEL: "info" } });
});
afterAll(() => api?.close());

/** A small seeded generator (mulberry32): the same codes and guesses on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
const sixDigits = (random: () => number) => String(Math.floor(random() * 1_000_000)).padStart(6, "0");

const target = (password: string, channel = "telegram", ip?: string) =>
  api.call("GET", `/target?channel=${channel}&password=${password}${ip ? `&ip=${ip}` : ""}`);

describe("GET /target is not an oracle", () => {
  it("1,000 live codes, 5,000 random guesses: no hit; at most 10 looked up, the rest refused with Retry-After", async () => {
    const codeRandom = seeded(11);
    const codes = new Set<string>();
    while (codes.size < 1000) codes.add(sixDigits(codeRandom));
    const chatIds = [...codes].map((_, i) => 5_100_000_000 + i);
    const list = [...codes];
    for (let i = 0; i < list.length; i += 50) {
      await Promise.all(
        list
          .slice(i, i + 50)
          .map((password, j) =>
            api.call("POST", "/telegram", { chat_id: chatIds[i + j], password, lifetime: 600, message: "m" }),
          ),
      );
    }
    const guessRandom = seeded(2026);
    const guesses = Array.from({ length: 5000 }, () => sixDigits(guessRandom));
    // The attacker's list holds 5 of the codes (from its 1,378th guess on): before the change every
    // guess was looked up, and these were found.
    const wouldHit = guesses.map((g, i) => (codes.has(g) ? i : -1)).filter((i) => i >= 0);
    expect(wouldHit).toEqual([1377, 1679, 2109, expect.any(Number), expect.any(Number)]);

    const answers: { status: number; code?: string; retryAfter: string | null }[] = [];
    for (let i = 0; i < guesses.length; i += 25) {
      const batch = await Promise.all(guesses.slice(i, i + 25).map((g) => target(g)));
      for (const a of batch)
        answers.push({ status: a.status, code: a.body.status_code, retryAfter: a.headers.get("Retry-After") });
    }
    const hits = answers.filter((a) => a.status === 200);
    const lookedUp = answers.filter((a) => a.status !== 429);
    const refused = answers.filter((a) => a.status === 429);
    expect(hits).toEqual([]);
    expect(lookedUp.length).toBeLessThanOrEqual(10);
    expect(refused.length).toBe(5000 - lookedUp.length);
    expect(refused.every((a) => a.code === "lookup_throttled" && Number(a.retryAfter) >= 1)).toBe(true);

    // A throttled lookup is refused outright, even for a real code; a minute later lookups work again.
    const real = list[0] as string;
    expect((await target(real)).status).toBe(429);
    api.clock.advance(60_000);
    expect((await target(real)).body).toEqual({ status: true, content: { target: String(chatIds[0]) } });
    const text = await (await api.app.request("/metrics")).text();
    expect(metricValue(text, "otp_lookup_throttled_total", { lookup: "target" })).toBeGreaterThanOrEqual(4990);
  }, 120_000);

  it("channels are counted apart; with ip, one address cannot use up its channel's misses", async () => {
    api.clock.advance(120_000);
    for (let i = 0; i < 10; i++) expect((await target(`90000${i}`, "sms")).status).toBe(404);
    expect((await target("900010", "sms")).status).toBe(429);
    expect((await target("900010", "email")).status).toBe(404);

    api.clock.advance(120_000);
    const misses = async (ip: string) => {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await target(`91000${i}`, "call", ip)).status);
      return statuses;
    };
    // Each address gets a quarter of the channel's 10 misses (3): the 4th is refused for it alone.
    expect(await misses("203.0.113.1")).toEqual([404, 404, 404, 429, 429]);
    expect(await misses("203.0.113.2")).toEqual([404, 404, 404, 429, 429]);
    expect(await misses("203.0.113.3")).toEqual([404, 404, 404, 429, 429]);
    expect(await misses("203.0.113.4")).toEqual([404, 429, 429, 429, 429]);
  });

  it("a guess matching codes of two targets answers not found and logs a warning", async () => {
    api.clock.advance(120_000);
    await api.call("POST", "/telegram", { chat_id: 7_000_001, password: "424242", lifetime: 600, message: "m" });
    await api.call("POST", "/telegram", { chat_id: 7_000_002, password: "424242", lifetime: 600, message: "m" });
    const answer = await target("424242");
    expect(answer.status).toBe(404);
    expect(api.logs.some((l) => l.includes('"level":40') && l.includes("more than one target"))).toBe(true);
  });
});

describe("GET /password", () => {
  it("misses are counted globally: past 10 a minute, 429 lookup_throttled with Retry-After", async () => {
    api.clock.advance(120_000);
    for (let i = 0; i < 10; i++) expect((await api.call("GET", `/password?target=7701000000${i}`)).status).toBe(404);
    const refused = await api.call("GET", "/password?target=77010000010");
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ status: false, status_code: "lookup_throttled" });
    expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
    api.clock.advance(60_000);
    expect((await api.call("GET", "/password?target=77010000010")).status).toBe(404);
  });

  it("a live code that does not decrypt (another OTP_SECRET) answers not found and counts as a miss too", async () => {
    api.clock.advance(120_000);
    const phones = Array.from({ length: 11 }, (_, i) => `770120000${String(i).padStart(2, "0")}`);
    for (const phone of phones) {
      const created = await api.call("POST", "/sms", { phone, password: "1234", lifetime: 600, message: "{password}" });
      expect(created.status).toBe(200);
    }
    await api.pool.query("UPDATE otp SET password_cipher = '\\x00'::bytea WHERE target = ANY($1)", [phones]);
    const statuses: number[] = [];
    for (const phone of phones) statuses.push((await api.call("GET", `/password?target=${phone}`)).status);
    expect(statuses).toEqual([...Array(10).fill(404), 429]);
  });
});
