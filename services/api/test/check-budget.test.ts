import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { metricValue } from "@otp/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPhone, startTestApi, type TestApi } from "./support/harness.js";

/**
 * The per-target failure budget (docs/security.md, "Guessing"): consecutive wrong checks of one
 * channel and target are counted across all its codes; after OTP_CHECK_THROTTLE_AFTER (5) the
 * target's checks are refused for 30 s, and each wrong check after a delay ends starts the next,
 * doubled one, up to an hour. A resend does not reset it; a right check does.
 */

const db = useTestDatabase();
const broker = useTestBroker("api-check-budget");
let api: TestApi;
/** A second replica of `api`: same database, same clock. */
let replica: TestApi;
let unthrottled: TestApi;

beforeAll(async () => {
  api = await startTestApi({ pg: db(), broker });
  replica = await startTestApi({ pg: db(), broker, clock: api.clock });
  unthrottled = await startTestApi({ pg: db(), broker, env: { OTP_CHECK_THROTTLE_AFTER: "0" } });
});
afterAll(async () => {
  await api?.close();
  await replica?.close();
  await unthrottled?.close();
});

const sms = (on: TestApi, phone: string, password: string) =>
  on.call("POST", "/sms", { phone, password, lifetime: 600, message: `Code ${password}` });
const check = (on: TestApi, phone: string, password: string, ip?: string) =>
  on.call("GET", `/sms/check?phone=${phone}&password=${password}${ip ? `&ip=${ip}` : ""}`);

async function checkedCount(on: TestApi, outcome: string): Promise<number> {
  const text = await (await on.app.request("/metrics")).text();
  return metricValue(text, "otp_checked_total", { channel: "sms", outcome });
}

describe("the per-target failure budget", () => {
  it("200 parallel wrong checks spread over 10 resent codes, on two replicas, evaluate at most OTP_CHECK_THROTTLE_AFTER + 5 guesses", async () => {
    const phone = freshPhone();
    const mismatches = async () => (await checkedCount(api, "mismatch")) + (await checkedCount(replica, "mismatch"));
    const before = await mismatches();
    for (let round = 0; round < 10; round++) {
      expect((await sms(api, phone, `5${round}1234`)).status).toBe(200);
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => check(i % 2 ? replica : api, phone, `9${round}${i}00`)),
      );
      for (const answer of answers) {
        expect(answer.status).toBe(200);
        expect(answer.body.status).toBe(false);
      }
    }
    // Every `mismatch` answer is a guess that was compared with the live codes; the others were not.
    const evaluated = (await mismatches()) - before;
    expect(evaluated).toBeLessThanOrEqual(5 + 5);
    expect(evaluated).toBeGreaterThanOrEqual(5);
  });

  it("a resend does not reset it: the new, right code is refused for the delay, with Retry-After", async () => {
    const phone = freshPhone();
    await sms(api, phone, "111111");
    for (let i = 0; i < 5; i++) expect((await check(api, phone, `00000${i}`)).body).toEqual({ status: false });
    await sms(api, phone, "222222");
    const refused = await check(api, phone, "222222");
    expect(refused.status).toBe(200);
    expect(refused.body).toEqual({
      status: false,
      status_code: "check_throttled",
      message: expect.stringContaining("30 seconds"),
    });
    expect(refused.headers.get("Retry-After")).toBe("30");
    api.clock.advance(30_000);
    expect((await check(api, phone, "222222")).body).toEqual({ status: true });
  });

  it("after a delay each wrong check starts the next, doubled one, up to an hour; a right check resets it", async () => {
    const phone = freshPhone();
    await sms(api, phone, "333333");
    for (let i = 0; i < 5; i++) await check(api, phone, `00000${i}`);
    // The code itself died of its 5 failures: a new one, the budget left as it is.
    await sms(api, phone, "444444");
    const delays: string[] = [];
    let retryAfter = "30";
    for (let i = 0; i < 9; i++) {
      api.clock.advance(Number(retryAfter) * 1000);
      expect((await check(api, phone, "999999")).body).toEqual({ status: false });
      const refused = await check(api, phone, "444444");
      expect(refused.body.status_code).toBe("check_throttled");
      retryAfter = refused.headers.get("Retry-After") ?? "";
      delays.push(retryAfter);
    }
    expect(delays).toEqual(["60", "120", "240", "480", "960", "1920", "3600", "3600", "3600"]);
    // Once the last delay is over, a right check passes and resets the count...
    api.clock.advance(3_600_000);
    await sms(api, phone, "555555");
    expect((await check(api, phone, "555555")).body).toEqual({ status: true });
    // ...so 4 wrong ones are allowed again, and the right one after them.
    await sms(api, phone, "666666");
    for (let i = 0; i < 4; i++) expect((await check(api, phone, `00000${i}`)).body).toEqual({ status: false });
    expect((await check(api, phone, "666666")).body).toEqual({ status: true });
  });

  it("an unknown target is throttled exactly like a known one (the answer tells nothing)", async () => {
    const phone = freshPhone();
    for (let i = 0; i < 5; i++) expect((await check(api, phone, `00000${i}`)).body).toEqual({ status: false });
    const refused = await check(api, phone, "000009");
    expect(refused.body.status_code).toBe("check_throttled");
    expect(refused.headers.get("Retry-After")).toBe("30");
  });

  it("with ip: one address cannot lock the owner out; four addresses lock the target", async () => {
    const phone = freshPhone();
    await sms(api, phone, "777777");
    for (let i = 0; i < 5; i++) await check(api, phone, `00000${i}`, "203.0.113.1");
    // The code died of its 5 failures, whoever made them: the owner asks for a new one. The
    // stranger's address is refused; the owner's is not.
    await sms(api, phone, "888888");
    expect((await check(api, phone, "888888", "203.0.113.1")).body.status_code).toBe("check_throttled");
    expect((await check(api, phone, "888888", "198.51.100.7")).body).toEqual({ status: true });

    const other = freshPhone();
    for (const ip of ["203.0.113.11", "203.0.113.12", "203.0.113.13", "203.0.113.14"]) {
      await sms(api, other, "121212");
      for (let i = 0; i < 5; i++) expect((await check(api, other, `00000${i}`, ip)).body).toEqual({ status: false });
    }
    await sms(api, other, "131313");
    const owner = await check(api, other, "131313", "198.51.100.7");
    expect(owner.body.status_code).toBe("check_throttled");
    expect(owner.headers.get("Retry-After")).toBe("30");
  });

  it("an address beyond its share only lengthens its own delays, never the target's", async () => {
    const phone = freshPhone();
    const stranger = "203.0.113.21";
    let evaluated = 0;
    let lastDelay = "";
    while (evaluated < 20) {
      const answer = await check(api, phone, "000000", stranger);
      if (answer.body.status_code === "check_throttled") {
        lastDelay = answer.headers.get("Retry-After") ?? "";
        api.clock.advance(Number(lastDelay) * 1000);
      } else if (answer.body.status_code === "attempts_exceeded") {
        await sms(api, phone, "141414");
      } else {
        expect(answer.body).toEqual({ status: false });
        evaluated++;
      }
    }
    // The stranger's own delays grew to the cap.
    expect(lastDelay).toBe("3600");
    await sms(api, phone, "151515");
    expect((await check(api, phone, "151515", "198.51.100.8")).body).toEqual({ status: true });
  });

  it("OTP_CHECK_THROTTLE_AFTER=0 refuses nothing (the per-code OTP_MAX_CHECK_ATTEMPTS still applies)", async () => {
    const answers: Record<string, unknown>[] = [];
    for (const on of [api, unthrottled]) {
      const phone = freshPhone();
      for (let round = 0; round < 3; round++) {
        await sms(on, phone, `16161${round}`);
        for (let i = 0; i < 5; i++) await check(on, phone, "0");
      }
      await sms(on, phone, "171717");
      answers.push((await check(on, phone, "171717")).body);
    }
    expect(answers).toEqual([expect.objectContaining({ status_code: "check_throttled" }), { status: true }]);
  });

  it("counts refused checks in /metrics as check_throttled", async () => {
    const before = await checkedCount(api, "check_throttled");
    const phone = freshPhone();
    for (let i = 0; i < 7; i++) await check(api, phone, `00000${i}`);
    expect(await checkedCount(api, "check_throttled")).toBe(before + 2);
  });
});

describe("counters expire", () => {
  const rows = async (phone: string) =>
    (await api.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM check_budget WHERE target = $1", [phone]))
      .rows[0]?.n;
  const wrong = async (phone: string, n: number) => {
    for (let i = 0; i < n; i++) await check(api, phone, `00000${i}`);
  };

  it("a target's counter is deleted an hour after its last code expired", async () => {
    const phone = freshPhone();
    await api.call("POST", "/sms", { phone, password: "181818", lifetime: 60, message: "m" });
    await wrong(phone, 5);
    expect(await rows(phone)).toBe(1);
    api.clock.advance(60_000 + 3_600_000 - 1_000);
    await api.sweeper.sweep();
    expect(await rows(phone)).toBe(1);
    api.clock.advance(2_000);
    await api.sweeper.sweep();
    expect(await rows(phone)).toBe(0);
  });

  it("a code sent within that hour keeps the counter: its next wrong check starts the next delay", async () => {
    const phone = freshPhone();
    await api.call("POST", "/sms", { phone, password: "191919", lifetime: 60, message: "m" });
    await wrong(phone, 5);
    api.clock.advance(60_000 + 3_000_000);
    await api.call("POST", "/sms", { phone, password: "202020", lifetime: 60, message: "m" });
    api.clock.advance(700_000);
    await api.sweeper.sweep();
    expect(await rows(phone)).toBe(1);
    expect((await check(api, phone, "000000")).body).toEqual({ status: false });
    expect((await check(api, phone, "000000")).headers.get("Retry-After")).toBe("60");
  });

  it("a counter of a target that never had a code is deleted an hour after its last failure", async () => {
    const phone = freshPhone();
    await wrong(phone, 2);
    api.clock.advance(3_600_000 + 1_000);
    await api.sweeper.sweep();
    expect(await rows(phone)).toBe(0);
  });
});
