import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPhone, startTestApi, type TestApi } from "./support/harness.js";

const db = useTestDatabase();
const broker = useTestBroker("api-create");
let api: TestApi;

beforeAll(async () => {
  api = await startTestApi({ pg: db(), broker, env: { OTP_MAX_LIFETIME: "3600", OTP_CODE_LENGTH: "8" } });
});
afterAll(() => api?.close());

const form = { "Content-Type": "application/x-www-form-urlencoded" };

describe("POST /{channel}", () => {
  it("answers {status: true, content: {id}}; GET /otp/{id} shows it pending", async () => {
    const phone = freshPhone();
    const created = await api.call("POST", "/sms", { phone, password: "1", lifetime: 120, message: "m" });
    expect(created.status).toBe(200);
    const id = (created.body.content as { id: string }).id;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    const status = await api.call("GET", `/otp/${id}`);
    expect(status.status).toBe(200);
    const content = status.body.content as Record<string, unknown>;
    expect(content).toEqual({
      id,
      channel: "sms",
      created_at: expect.any(String),
      expire_at: expect.any(String),
      delivery: { status: "pending", attempts: 0, last_error: null, delivered_at: null },
      verification: {
        status: "pending",
        reason: null,
        attempts_left: 5,
        expires_in: expect.any(Number),
        verified_at: null,
      },
      metadata: {},
      test: false,
    });
    const lifetime = Date.parse(content.expire_at as string) - Date.parse(content.created_at as string);
    expect(lifetime).toBe(120_000);
  });

  it("GET /otp/{id}: 404 for an unknown id, 400 for a non-uuid", async () => {
    const unknown = await api.call("GET", "/otp/00000000-0000-4000-8000-000000000000");
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ status: false, status_code: "not_found" });
    const bad = await api.call("GET", "/otp/not-a-uuid");
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ status: false, status_code: "validation", message: '"id" must be a UUID' });
  });

  it("accepts a form body and a query string; the body wins over the query", async () => {
    const phone = freshPhone();
    const viaForm = await api.raw(
      "POST",
      `/sms?password=fromquery`,
      `phone=${phone}&password=frombody&lifetime=60&message=hello`,
      form,
    );
    expect(viaForm.status).toBe(200);
    expect((await api.call("GET", `/sms/check?phone=${phone}&password=frombody`)).body).toEqual({ status: true });

    const other = freshPhone();
    const viaQuery = await api.call("POST", `/call?phone=${other}&password=42&lifetime=60`);
    expect(viaQuery.status).toBe(200);
    expect((await api.call("GET", `/call/check?phone=${other}&password=42`)).body).toEqual({ status: true });
  });

  it("accepts the original product's lenient scalars: numbers for phone and password, a numeric string lifetime", async () => {
    const phone = freshPhone();
    const created = await api.call("POST", "/sms", {
      phone: Number(phone),
      password: 987,
      lifetime: "60",
      message: "m",
    });
    expect(created.status).toBe(200);
    expect((await api.call("GET", `/sms/check?phone=${phone}&password=987`)).body).toEqual({ status: true });
  });

  it("generates a code when password is omitted; it is not returned, and GET /password reveals it", async () => {
    const phone = freshPhone();
    const created = await api.call("POST", "/sms", { phone, lifetime: 60, message: "Your code is {password}" });
    expect(created.status).toBe(200);
    expect(Object.keys(created.body.content as object)).toEqual(["id"]);
    const revealed = await api.call("GET", `/password?target=${phone}`);
    const code = (revealed.body.content as { password: string }).password;
    expect(code).toMatch(/^\d{8}$/); // OTP_CODE_LENGTH=8
    expect((await api.call("GET", `/sms/check?phone=${phone}&password=${code}`)).body).toEqual({ status: true });
    const { rows } = await api.pool.query("SELECT generated FROM otp WHERE target = $1", [phone]);
    expect(rows).toEqual([{ generated: true }]);
  });

  it("refuses to generate a code with nowhere to put it", async () => {
    const answer = await api.call("POST", "/sms", { phone: freshPhone(), lifetime: 60, message: "no placeholder" });
    expect(answer.status).toBe(400);
    expect(answer.body.message).toMatch(/^"password" parameter must be set/);
  });

  it("validates lifetime against OTP_MAX_LIFETIME, and every required field", async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ["/sms", { phone: "77010000000", password: "1", lifetime: 3601, message: "m" }, '"lifetime" must be between'],
      ["/sms", { phone: "77010000000", password: "1", lifetime: 0, message: "m" }, '"lifetime" must be between'],
      ["/sms", { phone: "77010000000", password: "1", message: "m" }, '"lifetime" parameter must be set'],
      ["/sms", { phone: "77010000000", password: "1", lifetime: 60 }, '"message" parameter must be set'],
      ["/sms", { phone: "abc", password: "1", lifetime: 60, message: "m" }, '"phone" must be 3 to 20 digits'],
      ["/email", { email: "nope", password: "1", lifetime: 60, subject: "s" }, '"email" must be a valid email'],
      ["/email", { email: "a@b.co", password: "1", lifetime: 60 }, '"subject" parameter must be set'],
      ["/telegram", { chat_id: "x", password: "1", lifetime: 60, message: "m" }, '"chat_id" must be an integer'],
      ["/call", { phone: "77010000000", password: "1", lifetime: "soon" }, '"lifetime" must be an integer'],
    ];
    for (const [path, body, message] of cases) {
      const answer = await api.call("POST", path, body);
      expect(answer.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(answer.body.status_code).toBe("validation");
      expect(answer.body.message).toContain(message);
    }
    const { rows } = await api.pool.query("SELECT count(*)::int AS n FROM otp WHERE target = '77010000000'");
    expect(rows[0].n).toBe(0);
  });
});

describe("GET /target and GET /password", () => {
  it("GET /target: the target of the live OTP of that channel with that code; 404 otherwise", async () => {
    const first = freshPhone();
    await api.call("POST", "/sms", { phone: first, password: "shared", lifetime: 60, message: "m" });
    expect((await api.call("GET", "/target?password=shared&channel=sms")).body).toEqual({
      status: true,
      content: { target: first },
    });
    // A second target with the same code: neither is named (docs/security.md, "Guessing").
    const second = freshPhone();
    await api.call("POST", "/sms", { phone: second, password: "shared", lifetime: 60, message: "m" });
    expect((await api.call("GET", "/target?password=shared&channel=sms")).status).toBe(404);
    const otherChannel = await api.call("GET", "/target?password=shared&channel=call");
    expect(otherChannel.status).toBe(404);
    expect(otherChannel.body).toMatchObject({ status: false, status_code: "not_found" });
    const bad = await api.call("GET", "/target?password=shared&channel=fax");
    expect(bad.status).toBe(400);
    expect(bad.body.message).toBe('"channel" must be one of sms, call, email, telegram');
  });

  it("GET /password: the newest live code of the target in any channel; expired and dead codes are not live", async () => {
    const phone = freshPhone();
    await api.call("POST", "/sms", { phone, password: "old", lifetime: 60, message: "m" });
    await api.call("POST", "/call", { phone, password: "new", lifetime: 30 });
    expect((await api.call("GET", `/password?target=%2B${phone}`)).body).toEqual({
      status: true,
      content: { password: "new" },
    });
    api.clock.advance(31_000); // the call code expires
    expect((await api.call("GET", `/password?target=${phone}`)).body).toEqual({
      status: true,
      content: { password: "old" },
    });
    for (let i = 0; i < 5; i++) await api.call("GET", `/sms/check?phone=${phone}&password=wrong`);
    const dead = await api.call("GET", `/password?target=${phone}`);
    expect(dead.status).toBe(404);
    expect(dead.body).toMatchObject({ status: false, status_code: "not_found" });
    expect((await api.call("GET", "/target?password=old&channel=sms")).status).toBe(404);
  });

  it("GET /password finds emails case-insensitively", async () => {
    await api.call("POST", "/email", { email: "Who@Example.com", password: "e1", lifetime: 60, subject: "s" });
    expect((await api.call("GET", "/password?target=WHO@example.COM")).body).toEqual({
      status: true,
      content: { password: "e1" },
    });
  });

  it("a missing parameter is a 400 validation", async () => {
    expect((await api.call("GET", "/password")).body).toEqual({
      status: false,
      status_code: "validation",
      message: '"target" parameter must be set',
    });
    expect((await api.call("GET", "/target?channel=sms")).body.message).toBe('"password" parameter must be set');
  });

  it("a target with a control character (NUL) is a 400 validation, never a 500", async () => {
    // PostgreSQL refuses NUL in text (SQLSTATE 22021): it must be stopped before the query.
    for (const target of ["a\u0000b@example.com", "7701\u00000000001", "abc\u0000"]) {
      const viaQuery = await api.call("GET", `/password?${new URLSearchParams({ target })}`);
      expect(viaQuery.status, JSON.stringify(target)).toBe(400);
      expect(viaQuery.body).toEqual({
        status: false,
        status_code: "validation",
        message: '"target" must not contain control characters',
      });
      const viaBody = await api.raw("GET", "/password", JSON.stringify({ target }), {
        "Content-Type": "application/json",
      });
      expect(viaBody.status, JSON.stringify(target)).toBe(400);
      expect(viaBody.json).toMatchObject({ status: false, status_code: "validation" });
    }
  });

  // A regression guard for request validation: the database's refusal (rejected-data.ts) is only
  // the fallback, and none of these should need it.
  it("request validation refuses a NUL in the other endpoints taking a target, before any query", async () => {
    const nul = "\u0000";
    const answers = [
      await api.call("POST", "/sms", { phone: `7701${nul}000001`, password: "1", lifetime: 60, message: "m" }),
      await api.call("POST", "/call", { phone: `7701000${nul}001`, password: "1", lifetime: 60 }),
      await api.call("POST", "/email", { email: `a${nul}b@example.com`, password: "1", lifetime: 60, subject: "s" }),
      await api.call("POST", "/telegram", { chat_id: `12${nul}`, password: "1", lifetime: 60, message: "m" }),
      await api.call("GET", `/sms/check?${new URLSearchParams({ phone: `7701${nul}01`, password: "1" })}`),
      await api.call("GET", `/email/check?${new URLSearchParams({ email: `a${nul}@example.com`, password: "1" })}`),
      await api.call("GET", `/telegram/check?${new URLSearchParams({ chat_id: `1${nul}`, password: "1" })}`),
      await api.call("GET", `/target?${new URLSearchParams({ password: `1${nul}`, channel: `sms${nul}` })}`),
      await api.call("POST", "/limit/sms", { phones: [{ minutes: `1${nul}`, rate: 1 }] }),
    ];
    for (const answer of answers) {
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ status: false, status_code: "validation" });
      // The database fallback's message, which would mean validation let the NUL through.
      expect(JSON.stringify(answer.body)).not.toContain("cannot be stored");
    }
  });
});
