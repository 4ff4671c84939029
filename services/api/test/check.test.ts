import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { metricValue } from "@otp/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPhone, startTestApi, type TestApi } from "./support/harness.js";

const db = useTestDatabase();
const broker = useTestBroker("api-check");
let api: TestApi;
let singleUse: TestApi;
/** Codes never die of wrong checks here, so a verified code can outlive its target's delays. */
let noKill: TestApi;

beforeAll(async () => {
  api = await startTestApi({ pg: db(), broker });
  singleUse = await startTestApi({
    pg: db(),
    broker,
    env: { OTP_SINGLE_USE: "true", OTP_MAX_CHECK_ATTEMPTS: "0", OTP_CHECK_THROTTLE_AFTER: "0" },
  });
  noKill = await startTestApi({ pg: db(), broker, env: { OTP_MAX_CHECK_ATTEMPTS: "0" } });
});
afterAll(async () => {
  await api?.close();
  await singleUse?.close();
  await noKill?.close();
});

const sms = (phone: string, password: string, lifetime = 300) =>
  api.call("POST", "/sms", { phone, password, lifetime, message: `Code ${password}` });
const check = (target: TestApi, phone: string, password: string) =>
  target.call("GET", `/sms/check?phone=${phone}&password=${password}`);

describe("GET /{channel}/check", () => {
  it("takes its parameters from the query string", async () => {
    const phone = freshPhone();
    await sms(phone, "4711");
    expect((await check(api, phone, "4711")).body).toEqual({ status: true });
    expect((await check(api, phone, "4712")).body).toEqual({ status: false });
  });

  it("takes them from a JSON body on the GET over a real socket; the body wins over the query", async () => {
    const phone = freshPhone();
    await sms(phone, "9000");
    const answer = await api.raw(
      "GET",
      `/sms/check?phone=${phone}&password=wrong`,
      JSON.stringify({ phone: Number(phone), password: 9000 }),
      { "Content-Type": "application/json" },
    );
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ status: true });
  });

  it("normalises the phone like the create did (+, spaces)", async () => {
    const phone = freshPhone();
    await sms(`+${phone}`, "1111");
    expect((await check(api, `%2B${phone}`, "1111")).body).toEqual({ status: true });
    expect((await check(api, phone, "1111")).body).toEqual({ status: true });
  });

  it("emails are case-insensitive", async () => {
    await api.call("POST", "/email", { email: "Case@Example.COM", password: "777", lifetime: 60, subject: "s" });
    const answer = await api.call("GET", "/email/check?email=case@example.com&password=777");
    expect(answer.body).toEqual({ status: true });
  });

  it("a code stops working when it expires (the injected clock)", async () => {
    const phone = freshPhone();
    await sms(phone, "2222", 60);
    api.clock.advance(59_000);
    expect((await check(api, phone, "2222")).body).toEqual({ status: true });
    api.clock.advance(2_000);
    expect((await check(api, phone, "2222")).body).toEqual({ status: false });
  });

  it("channels are separate: an SMS code does not pass /call/check", async () => {
    const phone = freshPhone();
    await sms(phone, "3333");
    const answer = await api.call("GET", `/call/check?phone=${phone}&password=3333`);
    expect(answer.body).toEqual({ status: false });
    expect((await check(api, phone, "3333")).body).toEqual({ status: true });
  });

  it("any of several live codes passes (resends)", async () => {
    const phone = freshPhone();
    await sms(phone, "1001");
    await sms(phone, "1002");
    expect((await check(api, phone, "1001")).body).toEqual({ status: true });
    expect((await check(api, phone, "1002")).body).toEqual({ status: true });
  });

  it("5 wrong checks kill the code: the right one then answers attempts_exceeded; a new OTP waits out the target's delay", async () => {
    const phone = freshPhone();
    await sms(phone, "5555");
    for (let i = 0; i < 5; i++) {
      const wrong = await check(api, phone, `000${i}`);
      expect(wrong.status).toBe(200);
      expect(wrong.body).toEqual({ status: false });
    }
    const right = await check(api, phone, "5555");
    expect(right.status).toBe(200);
    expect(right.body).toMatchObject({ status: false, status_code: "attempts_exceeded" });
    expect(right.body.message).toEqual(expect.any(String));

    // The target's 5 failures also started its 30 s delay, which a new code does not end.
    await sms(phone, "6666");
    expect((await check(api, phone, "6666")).body).toMatchObject({ status: false, status_code: "check_throttled" });
    api.clock.advance(30_000);
    expect((await check(api, phone, "6666")).body).toEqual({ status: true });
    // The dead one stays dead.
    expect((await check(api, phone, "5555")).body).toEqual({ status: false });
  });

  it("the first right check records the code's verification time; a later one does not move it", async () => {
    const phone = freshPhone();
    const id = (await sms(phone, "5150")).body.content as { id: string };
    const verifiedAt = async () =>
      (await api.pool.query("SELECT verified_at FROM otp WHERE id = $1", [id.id])).rows[0].verified_at as Date | null;
    expect((await check(api, phone, "5151")).body).toEqual({ status: false });
    expect(await verifiedAt()).toBeNull();
    expect((await check(api, phone, "5150")).body).toEqual({ status: true });
    const first = await verifiedAt();
    expect(first).toBeInstanceOf(Date);
    api.clock.advance(5_000);
    expect((await check(api, phone, "5150")).body).toEqual({ status: true });
    expect(await verifiedAt()).toEqual(first);
  });

  it("4 wrong checks leave the code alive", async () => {
    const phone = freshPhone();
    await sms(phone, "4444");
    for (let i = 0; i < 4; i++) await check(api, phone, "0");
    expect((await check(api, phone, "4444")).body).toEqual({ status: true });
  });

  it("parallel guesses are counted one after the other: 20 at once, the right one among them, at most 5 compared", async () => {
    const phone = freshPhone();
    await sms(phone, "8888");
    const guesses = Array.from({ length: 20 }, (_, i) => (i === 19 ? "8888" : `9${i}`));
    const answers = await Promise.all(guesses.map((g) => check(api, phone, g)));
    // The right guess comes last in the array, but order is not guaranteed: what is guaranteed is
    // that the code died after 5 failures, so at most the first 5 wrong answers count.
    const statuses = answers.map((a) => a.body.status_code ?? String(a.body.status));
    expect(statuses.filter((s) => s === "false").length).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === "attempts_exceeded").length).toBeGreaterThanOrEqual(14);
  });

  it("OTP_SINGLE_USE=true: a successful check consumes the code", async () => {
    const phone = freshPhone();
    await singleUse.call("POST", "/sms", { phone, password: "1212", lifetime: 60, message: "x {password}" });
    expect((await check(singleUse, phone, "1212")).body).toEqual({ status: true });
    expect((await check(singleUse, phone, "1212")).body).toEqual({ status: false });
  });

  it("OTP_MAX_CHECK_ATTEMPTS=0 (and OTP_CHECK_THROTTLE_AFTER=0): no limit on wrong guesses", async () => {
    const phone = freshPhone();
    await singleUse.call("POST", "/sms", { phone, password: "3434", lifetime: 60, message: "x" });
    for (let i = 0; i < 8; i++) await check(singleUse, phone, "0");
    expect((await check(singleUse, phone, "3434")).body).toEqual({ status: true });
  });

  it("missing parameters are a 400 validation naming them", async () => {
    const answer = await api.call("GET", "/telegram/check?password=1");
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({
      status: false,
      status_code: "validation",
      message: '"chat_id" parameter must be set',
    });
  });

  it("counts checks by outcome in /metrics", async () => {
    // Read before and after, on this test's own phone: what other tests checked does not matter.
    const counts = async () => {
      const text = await (await api.app.request("/metrics")).text();
      const count = (outcome: string) => metricValue(text, "otp_checked_total", { channel: "sms", outcome });
      return { match: count("match"), mismatch: count("mismatch"), exceeded: count("attempts_exceeded") };
    };
    const before = await counts();
    const phone = freshPhone();
    await sms(phone, "7171");
    expect((await check(api, phone, "7171")).body).toEqual({ status: true });
    for (let i = 0; i < 5; i++) expect((await check(api, phone, "0")).body).toEqual({ status: false });
    expect((await check(api, phone, "7171")).body).toMatchObject({ status_code: "attempts_exceeded" });
    expect(await counts()).toEqual({
      match: before.match + 1,
      mismatch: before.mismatch + 5,
      exceeded: before.exceeded + 1,
    });
  });
});

/**
 * A right check of a code already verified writes nothing, and is answered by a read that takes
 * no lock (docs/security.md, "Checks: a failure budget per target"): it must still see the target's failures.
 */
describe("GET /{channel}/check of a code already verified", () => {
  const send = (phone: string, password: string) =>
    noKill.call("POST", "/sms", { phone, password, lifetime: 300, message: `Code ${password}` });

  it("is refused like any other while its target's delay runs", async () => {
    const phone = freshPhone();
    await send(phone, "2468");
    expect((await check(noKill, phone, "2468")).body).toEqual({ status: true });
    for (let i = 0; i < 5; i++) expect((await check(noKill, phone, `135${i}`)).body).toEqual({ status: false });
    expect((await check(noKill, phone, "2468")).body).toMatchObject({ status: false, status_code: "check_throttled" });
  });

  it("after the delay, still resets the target's failure count", async () => {
    const phone = freshPhone();
    await send(phone, "3579");
    expect((await check(noKill, phone, "3579")).body).toEqual({ status: true });
    for (let i = 0; i < 5; i++) await check(noKill, phone, `864${i}`);
    noKill.clock.advance(30_000);
    expect((await check(noKill, phone, "3579")).body).toEqual({ status: true });
    // Reset: four more wrong checks are compared and answered, none refused.
    for (let i = 0; i < 4; i++) expect((await check(noKill, phone, `975${i}`)).body).toEqual({ status: false });
    expect((await check(noKill, phone, "3579")).body).toEqual({ status: true });
  });

  it("answers right again and again, and its verification time stays the first", async () => {
    const phone = freshPhone();
    const { id } = (await send(phone, "1357")).body.content as { id: string };
    expect((await check(noKill, phone, "1357")).body).toEqual({ status: true });
    const first = (await noKill.pool.query("SELECT verified_at FROM otp WHERE id = $1", [id])).rows[0].verified_at;
    expect(first).toBeInstanceOf(Date);
    noKill.clock.advance(1_000);
    for (let i = 0; i < 3; i++) expect((await check(noKill, phone, "1357")).body).toEqual({ status: true });
    expect((await check(noKill, phone, "1358")).body).toEqual({ status: false });
    const after = (await noKill.pool.query("SELECT verified_at FROM otp WHERE id = $1", [id])).rows[0].verified_at;
    expect(after).toEqual(first);
  });

  it("from an address with failures of its own, still resets that address's count", async () => {
    const phone = freshPhone();
    await send(phone, "4680");
    expect((await check(noKill, phone, "4680")).body).toEqual({ status: true });
    const from = (ip: string, password: string) =>
      noKill.call("GET", `/sms/check?phone=${phone}&password=${password}&ip=${ip}`);
    for (let i = 0; i < 4; i++) expect((await from("10.0.0.1", `111${i}`)).body).toEqual({ status: false });
    // Another address's right check resets the target's count and its own, not 10.0.0.1's …
    expect((await from("10.0.0.2", "4680")).body).toEqual({ status: true });
    // … which 10.0.0.1's right check then resets: four more failures are its first four again.
    expect((await from("10.0.0.1", "4680")).body).toEqual({ status: true });
    for (let i = 0; i < 4; i++) expect((await from("10.0.0.1", `222${i}`)).body).toEqual({ status: false });
  });

  it("under OTP_SINGLE_USE is consumed by its next right check, even if verified without it", async () => {
    const phone = freshPhone();
    await send(phone, "5791");
    expect((await check(noKill, phone, "5791")).body).toEqual({ status: true });
    expect((await check(singleUse, phone, "5791")).body).toEqual({ status: true });
    expect((await check(singleUse, phone, "5791")).body).toEqual({ status: false });
    expect((await check(noKill, phone, "5791")).body).toEqual({ status: false });
  });
});
