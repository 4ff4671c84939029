import { useTestBroker } from "@otp/broker/testing";
import { digestPassword } from "@otp/contracts";
import { useTestDatabase } from "@otp/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPhone, startTestApi, type TestApi } from "./support/harness.js";

/**
 * What a new code does to a target's older live codes (OTP_RESEND: new, supersede, reuse), what a
 * right check under OTP_SINGLE_USE does to them, and the uniqueness of generated codes
 * (docs/security.md, "Guessing").
 */

const db = useTestDatabase();
const broker = useTestBroker("api-resend");
let apis: Record<"single" | "supersede" | "reuse" | "reuseUnthrottled" | "short", TestApi>;

beforeAll(async () => {
  const pg = db();
  apis = {
    single: await startTestApi({ pg, broker, env: { OTP_SINGLE_USE: "true" } }),
    supersede: await startTestApi({ pg, broker, env: { OTP_RESEND: "supersede" } }),
    reuse: await startTestApi({ pg, broker, env: { OTP_RESEND: "reuse" } }),
    // Without the per-target throttle, so that only the per-code cap can refuse a right code.
    reuseUnthrottled: await startTestApi({ pg, broker, env: { OTP_RESEND: "reuse", OTP_CHECK_THROTTLE_AFTER: "0" } }),
    short: await startTestApi({ pg, broker, env: { OTP_CODE_LENGTH: "4", OTP_TELEGRAM_CODE_LENGTH: "4" } }),
  };
});
afterAll(async () => {
  for (const api of Object.values(apis ?? {})) await api.close();
});

const sms = (api: TestApi, phone: string, password?: string, lifetime = 300) =>
  api.call("POST", "/sms", { phone, password, lifetime, message: "Code {password}" });
const check = (api: TestApi, phone: string, password: string) =>
  api.call("GET", `/sms/check?phone=${phone}&password=${password}`);
const passwordOf = async (api: TestApi, target: string) =>
  (await api.call("GET", `/password?target=${target}`)).body.content as { password: string } | undefined;

describe("OTP_SINGLE_USE=true", () => {
  it("a right check consumes every live code of the target, not only the one that matched", async () => {
    const phone = freshPhone();
    await sms(apis.single, phone, "101010");
    await sms(apis.single, phone, "202020");
    expect((await check(apis.single, phone, "202020")).body).toEqual({ status: true });
    expect((await check(apis.single, phone, "101010")).body).toEqual({ status: false });
    expect((await check(apis.single, phone, "202020")).body).toEqual({ status: false });
  });

  it("records why each code closed: consumed, and the others closed with it", async () => {
    const phone = freshPhone();
    await sms(apis.single, phone, "303030");
    await sms(apis.single, phone, "404040");
    await check(apis.single, phone, "303030");
    const { rows } = await apis.single.pool.query<{ closed_reason: string; closed: boolean }>(
      "SELECT closed_reason, closed_at IS NOT NULL AS closed FROM otp WHERE target = $1 ORDER BY created_at",
      [phone],
    );
    expect(rows).toEqual([
      { closed_reason: "consumed", closed: true },
      { closed_reason: "sibling_consumed", closed: true },
    ]);
  });
});

describe("OTP_RESEND=supersede", () => {
  it("a new code closes the target's older live codes of that channel", async () => {
    const phone = freshPhone();
    await sms(apis.supersede, phone, "505050");
    await apis.supersede.call("POST", "/call", { phone, password: "515151", lifetime: 300 });
    await sms(apis.supersede, phone, "606060");
    expect((await check(apis.supersede, phone, "505050")).body).toEqual({ status: false });
    expect((await check(apis.supersede, phone, "606060")).body).toEqual({ status: true });
    // Another channel's code is left alone.
    expect((await apis.supersede.call("GET", `/call/check?phone=${phone}&password=515151`)).body).toEqual({
      status: true,
    });
  });
});

describe("OTP_RESEND=reuse", () => {
  it("re-sends the live code while it has more than a minute to live, as a new OTP with the original expiry", async () => {
    const api = apis.reuse;
    const phone = freshPhone();
    const first = await sms(api, phone, undefined, 300);
    const code = (await passwordOf(api, phone))?.password;
    expect(code).toMatch(/^\d{6}$/);
    api.clock.advance(200_000);
    const second = await sms(api, phone, undefined, 300);
    expect(second.status).toBe(200);
    const ids = [first, second].map((a) => (a.body.content as { id: string }).id);
    expect(ids[1]).not.toBe(ids[0]);
    expect((await passwordOf(api, phone))?.password).toBe(code);
    const statuses = await Promise.all(ids.map(async (id) => (await api.call("GET", `/otp/${id}`)).body.content));
    const [a, b] = statuses as { expire_at: string }[];
    expect(b?.expire_at).toBe(a?.expire_at);
    // The older row is closed, superseded by its copy: one live code per target.
    const { rows } = await api.pool.query("SELECT closed_reason FROM otp WHERE target = $1 ORDER BY created_at", [
      phone,
    ]);
    expect(rows).toEqual([{ closed_reason: "superseded" }, { closed_reason: null }]);
    expect((await check(api, phone, code as string)).body).toEqual({ status: true });
  });

  it("with a minute or less left, or with the client's own password, sends a new code and supersedes the old", async () => {
    const api = apis.reuse;
    const phone = freshPhone();
    await sms(api, phone, undefined, 300);
    const code = (await passwordOf(api, phone))?.password;
    api.clock.advance(240_000);
    await sms(api, phone, undefined, 300);
    const next = (await passwordOf(api, phone))?.password;
    expect(next).not.toBe(code);
    await sms(api, phone, "717171");
    expect((await check(api, phone, next as string)).body).toEqual({ status: false });
    expect((await check(api, phone, "717171")).body).toEqual({ status: true });
  });

  it("does not re-send a client's long code into a text it no longer fits: a new code supersedes it", async () => {
    const api = apis.reuse;
    const phone = freshPhone();
    const long = "A".repeat(128);
    expect(
      (await api.call("POST", "/sms", { phone, password: long, lifetime: 300, message: "{password}" })).status,
    ).toBe(200);
    // 168 placeholders: 7 segments with a generated 6-digit code, 141 with the 128-character one.
    const message = "{password}".repeat(168);
    expect((await api.call("POST", "/sms", { phone, lifetime: 300, message })).status).toBe(200);
    const next = (await passwordOf(api, phone))?.password;
    expect(next).toMatch(/^\d{6}$/);
    expect((await check(api, phone, long)).body).toEqual({ status: false });
    // With a text that fits it, the same long code is sent again.
    const other = freshPhone();
    await api.call("POST", "/sms", { phone: other, password: long, lifetime: 300, message: "{password}" });
    await api.call("POST", "/sms", { phone: other, lifetime: 300, message: "Code {password}" });
    expect((await passwordOf(api, other))?.password).toBe(long);
  });

  it("a re-sent code keeps its wrong checks: 4 wrong, a resend, 1 wrong, and the right code is dead", async () => {
    const api = apis.reuseUnthrottled;
    const phone = freshPhone();
    await sms(api, phone);
    const code = (await passwordOf(api, phone))?.password as string;
    const wrong = code === "000000" ? "111111" : "000000";
    for (let i = 0; i < 4; i++) expect((await check(api, phone, wrong)).body).toEqual({ status: false });
    const resent = (await sms(api, phone)).body.content as { id: string };
    expect((await passwordOf(api, phone))?.password).toBe(code);
    const byId = await api.call("POST", `/otp/${resent.id}/check`, { password: wrong });
    expect(byId.body.content).toMatchObject({ attempts_left: 0 });
    expect((await check(api, phone, code)).body).toMatchObject({ status: false, status_code: "attempts_exceeded" });
  });

  it("the copy's otp.created webhook event counts the wrong checks it keeps", async () => {
    const api = apis.reuseUnthrottled;
    // Every relay of this database: any would publish (and delete) the event before it is read.
    for (const each of Object.values(apis)) await each.relay.stop();
    try {
      await api.pool.query(
        "INSERT INTO webhook (id, url, events, secret_cipher, created_at) VALUES (gen_random_uuid(), 'https://example.com/hook', '{otp.created}', '\\x00', now())",
      );
      const phone = freshPhone();
      await sms(api, phone);
      const code = (await passwordOf(api, phone))?.password as string;
      const wrong = code === "000000" ? "111111" : "000000";
      for (let i = 0; i < 4; i++) await check(api, phone, wrong);
      const copy = ((await sms(api, phone)).body.content as { id: string }).id;
      const { rows } = await api.pool.query<{
        event: { payload: { data: { verification: Record<string, unknown> } } };
      }>("SELECT event FROM outbox WHERE otp_id = $1 AND channel = 'webhook'", [copy]);
      expect(rows.map((r) => r.event.payload.data.verification.attempts_left)).toEqual([1]);
    } finally {
      await api.pool.query("DELETE FROM webhook");
      await api.pool.query("DELETE FROM outbox WHERE channel = 'webhook'");
      for (const each of Object.values(apis)) each.relay.start();
    }
  });

  it("never re-sends a code already verified: a new code supersedes it", async () => {
    const api = apis.reuse;
    const phone = freshPhone();
    await sms(api, phone);
    const code = (await passwordOf(api, phone))?.password as string;
    expect((await check(api, phone, code)).body).toEqual({ status: true });
    await sms(api, phone);
    const next = (await passwordOf(api, phone))?.password;
    expect(next).toMatch(/^\d{6}$/);
    expect(next).not.toBe(code);
    expect((await check(api, phone, code)).body).toEqual({ status: false });
    expect((await check(api, phone, next as string)).body).toEqual({ status: true });
  });

  it("never re-sends a test target's code (its fixed code is the reviewer's, not the number's owner's)", async () => {
    const api = apis.reuse;
    const phone = freshPhone();
    await sms(api, phone, undefined, 3600);
    const code = (await passwordOf(api, phone))?.password as string;
    // As a test target's create leaves it; the test target since deleted or expired.
    await api.pool.query("UPDATE otp SET test = true WHERE target = $1", [phone]);
    expect((await sms(api, phone, undefined, 3600)).status).toBe(200);
    const next = (await passwordOf(api, phone))?.password;
    expect(next).toMatch(/^\d{6}$/);
    expect(next).not.toBe(code);
    const { rows } = await api.pool.query("SELECT test FROM otp WHERE target = $1 AND closed_at IS NULL", [phone]);
    expect(rows).toEqual([{ test: false }]);
  });

  it("weighs the newest live code: a newest code verified gets a new code, not an older one re-sent", async () => {
    const phone = freshPhone();
    // Two live codes, as OTP_RESEND=new leaves them (4 digits there); the newer one verified.
    await sms(apis.short, phone, undefined, 3600);
    const older = (await passwordOf(apis.short, phone))?.password as string;
    await sms(apis.short, phone, undefined, 3600);
    const newer = (await passwordOf(apis.short, phone))?.password as string;
    expect(newer).not.toBe(older);
    expect((await check(apis.short, phone, newer)).body).toEqual({ status: true });
    expect((await sms(apis.reuse, phone, undefined, 3600)).status).toBe(200);
    expect((await passwordOf(apis.reuse, phone))?.password).toMatch(/^\d{6}$/);
  });

  it("a re-send counts toward the limits like any create", async () => {
    const api = apis.reuse;
    await api.call("POST", "/limit/sms", { phones: [{ minutes: 10, rate: 2 }] });
    try {
      const phone = freshPhone();
      expect((await sms(api, phone)).status).toBe(200);
      const code = (await passwordOf(api, phone))?.password;
      expect((await sms(api, phone)).status).toBe(200);
      expect((await passwordOf(api, phone))?.password).toBe(code);
      const third = await sms(api, phone);
      expect(third.status).toBe(429);
      expect(third.body.status_code).toBe("phone_limit");
    } finally {
      await api.call("POST", "/limit/sms", { phones: [] });
    }
  });
});

describe("generated codes", () => {
  it("are unique among the live codes of their channel: 1,000 codes of 4 digits, no two alike", async () => {
    const api = apis.short;
    const base = 880_000_000;
    for (let i = 0; i < 1000; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, j) =>
          api.call("POST", "/telegram", { chat_id: base + i + j, lifetime: 600, message: "Code {password}" }),
        ),
      );
    }
    const { rows } = await api.pool.query<{ codes: number; distinct_codes: number }>(
      `SELECT count(*)::int AS codes, count(DISTINCT password_digest)::int AS distinct_codes FROM otp
       WHERE channel = 'telegram' AND generated`,
    );
    expect(rows[0]).toEqual({ codes: 1000, distinct_codes: 1000 });
  }, 120_000);

  it("with every code of the channel taken, the last draw is issued anyway and a warning logged", async () => {
    const api = apis.short;
    // Every 4-digit code live on `call`, each for a target of its own.
    const codes = Array.from({ length: 10_000 }, (_, n) => String(n).padStart(4, "0"));
    await api.pool.query(
      `INSERT INTO otp (id, channel, target, password_digest, password_cipher, created_at, expire_at)
       SELECT gen_random_uuid(), 'call', '9900' || c, d, '\\x00'::bytea, now(), now() + interval '1 hour'
       FROM unnest($1::text[], $2::bytea[]) AS u(c, d)`,
      [codes, codes.map((c) => digestPassword(api.keys, c))],
    );
    const logged = api.logs.length;
    const created = await api.call("POST", "/call", { phone: freshPhone(), lifetime: 600 });
    expect(created.status).toBe(200);
    expect(api.logs.slice(logged).some((l) => l.includes("every draw of a generated code was taken"))).toBe(true);
    // A create with a code space not full is no longer crowded.
    await api.pool.query("DELETE FROM otp WHERE channel = 'call' AND target LIKE '9900%'");
    const logs = api.logs.length;
    expect((await api.call("POST", "/call", { phone: freshPhone(), lifetime: 600 })).status).toBe(200);
    expect(api.logs.slice(logs).some((l) => l.includes("every draw of a generated code was taken"))).toBe(false);
  });
});
