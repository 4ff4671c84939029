import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "./support/harness.js";

const db = useTestDatabase();
const broker = useTestBroker("api-policy-guard");
let api: TestApi;

beforeAll(async () => {
  api = await startTestApi({ pg: db(), broker });
});
afterAll(() => api?.close());

const GUARD = {
  prefix_digits: 7,
  window_minutes: 60,
  min_sent: 5,
  min_conversion: 0.5,
  lag_seconds: 60,
  block_minutes: 10,
  max_block_minutes: 25,
};
beforeEach(async () => {
  api.clock.advance(24 * 60 * 60_000);
  await api.call("POST", "/policy/sms", { mode: "enforce", conversion_guard: GUARD });
});

/** Each test's numbers share a 7-digit prefix of their own: `77012` + two digits. */
let counter = 0;
const inPrefix = (prefix: string) => `${prefix}${String(counter++ % 10000).padStart(4, "0")}`;
const prefixOf = (block: number) => `77012${String(block).padStart(2, "0")}`;
const sms = (phone: string) =>
  api.call("POST", "/sms", { phone, password: "1234", lifetime: 3600, message: "Code {password}" });
const verify = (phone: string) => api.call("GET", `/sms/check?phone=${phone}&password=1234`);
const blocks = async () => (await api.call("GET", "/policy/sms/blocks")).body.content as { blocks: unknown[] };
const send = async (prefix: string, n: number) => {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) statuses.push((await sms(inPrefix(prefix))).status);
  return statuses;
};

describe("the conversion guard", () => {
  it("counts a code unverified only once it is older than lag_seconds; then suspends the prefix: the send that crosses is the last accepted", async () => {
    const prefix = prefixOf(1);
    // Young codes are not counted: a burst of 8 goes through.
    expect(await send(prefix, 8)).toEqual(Array(8).fill(200));
    api.clock.advance(61_000);
    const tripped = await sms(inPrefix(prefix));
    expect(tripped.status).toBe(429);
    expect(tripped.body).toEqual({
      status: false,
      status_code: "prefix_suspended",
      message: `Prefix ${prefix} is suspended for sms for 10 minutes: 0 of 8 codes verified in 60 minutes`,
    });
    expect(tripped.headers.get("retry-after")).toBe("600");
    expect((await blocks()).blocks).toEqual([
      { prefix, rule: "conversion_guard", sent: 8, verified: 0, since: expect.any(String), until: expect.any(String) },
    ]);
    api.clock.advance(60_000);
    const suspended = await sms(inPrefix(prefix));
    expect(suspended.body.status_code).toBe("prefix_suspended");
    expect(suspended.body.message).toMatch(new RegExp(`^Prefix ${prefix} is suspended for sms until `));
    expect(Number(suspended.headers.get("retry-after"))).toBe(540);
    // Another prefix is judged apart.
    expect((await sms(inPrefix(prefixOf(2)))).status).toBe(200);
  });

  it("with lag_seconds 0, exactly min_sent codes are accepted", async () => {
    await api.call("POST", "/policy/sms", { conversion_guard: { ...GUARD, lag_seconds: 0 } });
    expect(await send(prefixOf(3), 7)).toEqual([200, 200, 200, 200, 200, 429, 429]);
  });

  it("verified codes keep a prefix open", async () => {
    const prefix = prefixOf(4);
    const phones = Array.from({ length: 6 }, () => inPrefix(prefix));
    for (const phone of phones) expect((await sms(phone)).status).toBe(200);
    for (const phone of phones.slice(0, 3)) expect((await verify(phone)).body).toEqual({ status: true });
    api.clock.advance(61_000);
    // 3 of 6 verified: 0.5, not below min_conversion.
    expect(await send(prefix, 2)).toEqual([200, 200]);
    api.clock.advance(61_000);
    // 3 of 8: below.
    expect((await sms(inPrefix(prefix))).body.status_code).toBe("prefix_suspended");
  });

  it("doubles each repeat up to max_block_minutes; a repeat long after is a first one again", async () => {
    const prefix = prefixOf(5);
    await send(prefix, 5);
    api.clock.advance(61_000);
    expect((await sms(inPrefix(prefix))).headers.get("retry-after")).toBe("600");
    api.clock.advance(10 * 60_000 + 1000);
    // The window still holds the 5 unverified codes: suspended again, for twice as long.
    const second = await sms(inPrefix(prefix));
    expect(second.body.message).toMatch(/for 20 minutes: 0 of 5/);
    expect(second.headers.get("retry-after")).toBe("1200");
    api.clock.advance(20 * 60_000 + 1000);
    expect((await sms(inPrefix(prefix))).headers.get("retry-after")).toBe(String(25 * 60)); // 40, capped at 25
    // Past the window and past max_block_minutes since the last one ended: a first one again.
    api.clock.advance(2 * 60 * 60_000);
    await send(prefix, 5);
    api.clock.advance(61_000);
    expect((await sms(inPrefix(prefix))).headers.get("retry-after")).toBe("600");
  });

  it("while a streak lasts, what tripped the last suspension still counts, even once it has left the window", async () => {
    await api.call("POST", "/policy/sms", { conversion_guard: { ...GUARD, window_minutes: 5, max_block_minutes: 60 } });
    const prefix = prefixOf(8);
    await send(prefix, 5);
    api.clock.advance(61_000);
    expect((await sms(inPrefix(prefix))).headers.get("retry-after")).toBe("600");
    api.clock.advance(10 * 60_000 + 1000); // the 5 codes are 11 minutes old: outside a 5-minute window
    const again = await sms(inPrefix(prefix));
    expect(again.status).toBe(429);
    expect(again.headers.get("retry-after")).toBe("1200");
  });

  it("a lift ends the suspension and forgives the sends before it; the next suspension is a first one", async () => {
    const prefix = prefixOf(6);
    await send(prefix, 5);
    api.clock.advance(61_000);
    await sms(inPrefix(prefix)); // trips
    api.clock.advance(10 * 60_000 + 1000);
    expect((await sms(inPrefix(prefix))).headers.get("retry-after")).toBe("1200"); // a repeat
    const lifted = await api.call("DELETE", `/policy/sms/blocks/${prefix}`);
    expect(lifted.body).toEqual({ status: true });
    expect((await blocks()).blocks).toEqual([]);
    expect((await api.call("DELETE", `/policy/sms/blocks/${prefix}`)).status).toBe(404);
    // The 5 codes before the lift are forgiven.
    api.clock.advance(61_000);
    expect(await send(prefix, 5)).toEqual(Array(5).fill(200));
    api.clock.advance(61_000);
    expect((await sms(inPrefix(prefix))).headers.get("retry-after")).toBe("600");
  });

  it("a lift forgives a prefix whose suspension has ended but whose streak is remembered", async () => {
    const prefix = prefixOf(9);
    await send(prefix, 5);
    api.clock.advance(61_000);
    await sms(inPrefix(prefix)); // trips: 10 minutes
    api.clock.advance(10 * 60_000 + 1000); // ended; nothing in force, the streak remembered
    expect((await blocks()).blocks).toEqual([]);
    expect((await api.call("DELETE", `/policy/sms/blocks/${prefix}`)).body).toEqual({ status: true });
    expect((await api.call("DELETE", `/policy/sms/blocks/${prefix}`)).status).toBe(404); // nothing left
    // Forgiven: the codes before the lift no longer count, and the next trip is a first one.
    expect(await send(prefix, 5)).toEqual(Array(5).fill(200));
    api.clock.advance(61_000);
    expect((await sms(inPrefix(prefix))).headers.get("retry-after")).toBe("600");
  });

  it("monitor mode suspends nothing: each send to a failing prefix is recorded would_block conversion_guard", async () => {
    await api.call("POST", "/policy/sms", { mode: "monitor" });
    const prefix = prefixOf(7);
    await send(prefix, 5);
    api.clock.advance(61_000);
    for (let i = 0; i < 2; i++) {
      const created = await sms(inPrefix(prefix));
      expect(created.status).toBe(200);
      const id = (created.body.content as { id: string }).id;
      expect(((await api.call("GET", `/otp/${id}`)).body.content as { policy: unknown }).policy).toEqual({
        decision: "would_block",
        rule: "conversion_guard",
      });
    }
    expect((await blocks()).blocks).toEqual([]);
  });

  it("DELETE /policy/{channel}/blocks/{prefix} refuses what is not a prefix", async () => {
    const answer = await api.call("DELETE", "/policy/sms/blocks/77x");
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ status_code: "validation" });
  });

  it("DELETE /policy/{channel}/blocks/{prefix} does not repeat the prefix, which may be a whole number", async () => {
    const answer = await api.call("DELETE", "/policy/sms/blocks/77011234567");
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ status_code: "not_found" });
    expect(JSON.stringify(answer.body)).not.toContain("1234567");
  });
});
