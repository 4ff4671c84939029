import { fileURLToPath } from "node:url";
import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { killAll, serviceEnv, startNode } from "@otp/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DeliveringDispatcher, startDeliveringDispatcher } from "./support/dispatcher.js";
import { freshPhone, startTestApi, type TestApi } from "./support/harness.js";

/**
 * Test targets (docs/test-targets.md), under OTP_TEST_TARGETS=true: a fixed code, nothing ever sent,
 * exempt from limits and policy, marked `test: true` in GET /otp/{id}, events, stats and metrics.
 */

const SECRET = "test targets test secret";
const db = useTestDatabase();
const broker = useTestBroker("api-testtgt");
let api: TestApi;
/** A replica with the flag off, on the same database. */
let off: TestApi;
let dispatcher: DeliveringDispatcher;

beforeAll(async () => {
  api = await startTestApi({ pg: db(), broker, env: { OTP_SECRET: SECRET, OTP_TEST_TARGETS: "true" } });
  off = await startTestApi({ pg: db(), broker, clock: api.clock, env: { OTP_SECRET: SECRET } });
  dispatcher = await startDeliveringDispatcher({ pg: db(), broker, secret: SECRET });
});
afterAll(async () => {
  await api?.close();
  await off?.close();
  await dispatcher?.close();
  await killAll();
});

/** Another replica with test targets on, on the same database and clock, with `env` on top. */
const replica = (env: Record<string, string>) =>
  startTestApi({ pg: db(), broker, clock: api.clock, env: { OTP_SECRET: SECRET, OTP_TEST_TARGETS: "true", ...env } });
const inDays = (days: number) => new Date(api.clock.now().getTime() + days * 86_400_000).toISOString();
/**
 * Stores `target` as a test target of `password` through `on`, and returns its create and check
 * (the posting replica knows it at once).
 */
async function fixedCode(on: TestApi, target: string, password: string) {
  const post = { channel: "sms", target, password, expires_at: inDays(30) };
  expect((await on.call("POST", "/test-targets", post)).status).toBe(200);
  return {
    send: () => on.call("POST", "/sms", { phone: target, lifetime: 300, message: "Code {password}" }),
    guess: (guessed: string) => on.call("GET", `/sms/check?phone=${target}&password=${guessed}`),
  };
}
const put = (body: Record<string, unknown>) =>
  api.call("POST", "/test-targets", { channel: "sms", password: "424242", expires_at: inDays(30), ...body });
const sms = (phone: string, extra: Record<string, unknown> = {}) =>
  api.call("POST", "/sms", { phone, password: "1111", lifetime: 300, message: "Code {password}", ...extra });
const idOf = (answer: { body: Record<string, unknown> }) => (answer.body.content as { id: string }).id;
const check = (phone: string, password: string) => api.call("GET", `/sms/check?phone=${phone}&password=${password}`);
const metric = async (series: string) => {
  const text = await (await api.app.request("/metrics")).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
};

describe("POST, GET, DELETE /test-targets", () => {
  it("stores a target in its canonical form, lists it without its code, replaces it, deletes it", async () => {
    const created = await put({ target: "+7 (701) 555-0001" });
    expect(created.body).toEqual({
      status: true,
      content: {
        channel: "sms",
        target: "77015550001",
        expires_at: expect.any(String),
        created_at: expect.any(String),
      },
    });
    const email = await put({ channel: "email", target: " Review@Example.com " });
    expect((email.body.content as { target: string }).target).toBe("review@example.com");
    const expiresAt = inDays(60);
    await put({ target: "77015550001", password: "999999", expires_at: expiresAt });
    const listed = await api.call("GET", "/test-targets");
    expect(listed.body).toEqual({
      status: true,
      content: {
        test_targets: [
          {
            channel: "email",
            target: "review@example.com",
            expires_at: expect.any(String),
            created_at: expect.any(String),
          },
          { channel: "sms", target: "77015550001", expires_at: expiresAt, created_at: expect.any(String) },
        ],
      },
    });
    expect(JSON.stringify(listed.body)).not.toContain("999999");
    expect((await api.call("DELETE", "/test-targets/sms/+77015550001")).body).toEqual({ status: true });
    expect((await api.call("DELETE", "/test-targets/email/review@example.com")).body).toEqual({ status: true });
    const again = await api.call("DELETE", "/test-targets/sms/77015550001");
    expect(again.status).toBe(404);
    expect(again.body).toMatchObject({ status: false, status_code: "not_found" });
    expect((await api.call("GET", "/test-targets")).body).toEqual({ status: true, content: { test_targets: [] } });
    // The targets were in the DELETEs' paths: the request lines log the route's pattern instead.
    const logged = api.logs.join("\n");
    expect(logged).not.toContain("77015550001");
    expect(logged).not.toContain("review@example.com");
    expect(logged).toContain('"route":"/test-targets/:channel/:target"');
    // Nor does a request no route answered, a 405 on the same path: its line keeps the first segment.
    expect((await api.call("GET", "/test-targets/sms/77015550009")).status).toBe(405);
    expect((await api.call("PATCH", "/test-targets/email/other@example.com")).status).toBe(405);
    // Nor when the target is the first segment, or hides behind encoded slashes.
    expect((await api.call("POST", "/77015550009")).status).toBe(404);
    expect((await api.call("GET", "/test-targets%2Fsms%2F77015550009")).status).toBe(404);
    const after = api.logs.join("\n");
    expect(after).not.toContain("77015550009");
    expect(after).not.toContain("other@example.com");
    expect(after).toContain('"path":"/test-targets/…"');
  });

  it.each([
    [{ password: "12345" }, '"password" must be 6 to 12 digits'],
    [{ password: "12345a" }, '"password" must be 6 to 12 digits'],
    [{ expires_at: "2020-01-01T00:00:00Z" }, '"expires_at" must be in the future'],
    [
      { expires_at: "2020-01-01" },
      '"expires_at" must be an ISO 8601 date-time with an offset, e.g. 2025-01-31T00:00:00Z',
    ],
    [{ channel: "fax" }, '"channel" must be one of sms, call, email, telegram'],
    [{ target: "not a phone" }, '"target" must be 3 to 20 digits'],
    [{ channel: "telegram", target: "abc" }, '"target" must be an integer'],
  ])("refuses %j with 400 validation, storing nothing", async (fields, message) => {
    const answer = await put({ target: "77015550002", ...fields });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ status: false, status_code: "validation", message });
    expect((await api.call("GET", "/test-targets")).body).toEqual({ status: true, content: { test_targets: [] } });
  });

  it("refuses an expiry more than 90 days ahead", async () => {
    const answer = await put({ target: "77015550002", expires_at: inDays(91) });
    expect(answer.body).toEqual({
      status: false,
      status_code: "validation",
      message: '"expires_at" must be at most 90 days ahead',
    });
    expect((await put({ target: "77015550002", expires_at: inDays(89.9) })).status).toBe(200);
    await api.call("DELETE", "/test-targets/sms/77015550002");
  });

  it("are unknown paths (404) with OTP_TEST_TARGETS off, and a create to a stored one there is an ordinary one", async () => {
    for (const [method, path] of [
      ["POST", "/test-targets"],
      ["GET", "/test-targets"],
      ["DELETE", "/test-targets/sms/77015550003"],
    ] as const) {
      const answer = await off.call(method, path, method === "POST" ? { channel: "sms" } : undefined);
      expect(answer.status).toBe(404);
      expect(answer.body).toMatchObject({ status: false, status_code: "not_found" });
    }
    expect(off.logs.join("\n")).not.toContain("77015550003");
    await put({ target: "77015550003" });
    const created = await off.call("POST", "/sms", {
      phone: "77015550003",
      password: "1111",
      lifetime: 300,
      message: "Code {password}",
    });
    expect((await off.call("GET", `/otp/${idOf(created)}`)).body.content).toMatchObject({ test: false });
    await api.call("DELETE", "/test-targets/sms/77015550003");
  });

  it("refuse to start under OTP_ASSURANCE=strict", async () => {
    const env = serviceEnv({ pg: db(), broker, secret: SECRET }, { OTP_ASSURANCE: "strict", OTP_TEST_TARGETS: "true" });
    const cwd = fileURLToPath(new URL("..", import.meta.url));
    const started = startNode({ name: "api", entry: "src/main.ts", cwd, env });
    expect((await started.exited).code).toBe(1);
    expect(started.output()).toContain("OTP_TEST_TARGETS: must not be true under OTP_ASSURANCE=strict");
  });
});

describe("a create to a test target", () => {
  const phone = "77015550010";
  beforeAll(async () => {
    await put({ target: phone, password: "424242" });
  });

  it("sends nothing, checks with the fixed code only, and is marked test in GET /otp/{id} and the metrics", async () => {
    const createdBefore = await metric('otp_created_total{channel="sms"}');
    const created = await sms(phone);
    expect(created.body).toEqual({ status: true, content: { id: expect.any(String) } });
    const id = idOf(created);
    const outbox = await api.pool.query("SELECT 1 FROM outbox WHERE otp_id = $1 AND channel = 'sms'", [id]);
    expect(outbox.rowCount).toBe(0);
    // An ordinary create after it is delivered: had the test one been queued, it would be there too.
    const other = freshPhone();
    await sms(other);
    await expect.poll(() => dispatcher.provider.requests({ path: "/sms" }).length, { timeout: 15_000 }).toBe(1);
    expect(JSON.stringify(dispatcher.provider.requests())).not.toContain(phone);

    expect((await check(phone, "1111")).body).toEqual({ status: false });
    expect((await check(phone, "424242")).body).toEqual({ status: true });
    const status = (await api.call("GET", `/otp/${id}`)).body.content as Record<string, unknown>;
    expect(status).toMatchObject({ id, channel: "sms", test: true, delivery: { status: "delivered", attempts: 0 } });
    expect(await metric('otp_test_created_total{channel="sms"}')).toBe(1);
    expect(await metric('otp_created_total{channel="sms"}')).toBe(createdBefore + 1); // the ordinary one only
  });

  it("through the Telegram bot's webhook is counted as a test code too", async () => {
    const chat = "5550123";
    await put({ channel: "telegram", target: chat, password: "515151" });
    try {
      const createdBefore = await metric('otp_created_total{channel="telegram"}');
      const update = { update_id: 7, message: { message_id: 1, date: 1, chat: { id: Number(chat), type: "private" } } };
      expect((await api.call("POST", "/telegram/webhook", update)).body).toEqual({ status: true });
      expect(await metric('otp_test_created_total{channel="telegram"}')).toBe(1);
      expect(await metric('otp_created_total{channel="telegram"}')).toBe(createdBefore);
      expect((await api.call("GET", `/telegram/check?chat_id=${chat}&password=515151`)).body).toEqual({ status: true });
    } finally {
      await api.call("DELETE", `/test-targets/telegram/${chat}`);
    }
  });

  it("is exempt from limits and from the destination policy", async () => {
    await api.call("POST", "/limit/sms", { ips: [], phones: [{ minutes: 10, rate: 1 }] });
    await api.call("POST", "/policy/sms", { mode: "enforce", countries: { deny: ["KZ"] } });
    try {
      for (let i = 0; i < 3; i++) expect((await sms(phone, { ip: "203.0.113.9" })).status).toBe(200);
      const ordinary = await sms(freshPhone());
      expect(ordinary.status).toBe(403);
      expect(ordinary.body.status_code).toBe("destination_blocked");
    } finally {
      await api.call("POST", "/policy/sms", { mode: "off", countries: { deny: [] } });
      await api.call("POST", "/limit/sms", { ips: [], phones: [] });
    }
  });

  it("is left out of the conversion guard: test codes left unverified do not suspend their prefix", async () => {
    // Another operator's range than freshPhone's 7701…: no other test's codes share the prefix.
    const tester = "77075550020";
    await put({ target: tester, password: "626262" });
    const guard = { prefix_digits: 7, min_sent: 3, min_conversion: 0.5, lag_seconds: 0, block_minutes: 10 };
    await api.call("POST", "/policy/sms", { mode: "enforce", conversion_guard: guard });
    try {
      for (let i = 0; i < 5; i++) expect((await sms(tester)).status).toBe(200);
      // Five codes of the prefix 7707555, none verified: had they counted, this create would be refused.
      const ordinary = await sms("77075550021");
      expect(ordinary.body).toMatchObject({ status: true });
    } finally {
      await api.call("POST", "/policy/sms", { mode: "off", conversion_guard: null });
      await api.call("DELETE", `/test-targets/sms/${tester}`);
    }
  });

  it("emits otp.created with test: true to the webhooks, in its transaction", async () => {
    // Both relays of this database: either would publish (and delete) the event before it is read.
    await api.relay.stop();
    await off.relay.stop();
    try {
      await api.pool.query(
        "INSERT INTO webhook (id, url, events, secret_cipher, created_at) VALUES (gen_random_uuid(), 'https://example.com/hook', '{otp.*}', '\\x00', now())",
      );
      const id = idOf(await sms(phone));
      const { rows } = await api.pool.query<{ event: { type: string; payload: { data: Record<string, unknown> } } }>(
        "SELECT event FROM outbox WHERE otp_id = $1 AND channel = 'webhook'",
        [id],
      );
      expect(rows.map((r) => r.event.type)).toEqual(["otp.created"]);
      expect(rows[0]?.event.payload.data).toMatchObject({
        otp_id: id,
        test: true,
        target: "7701*****10",
        country: "KZ",
      });
    } finally {
      await api.pool.query("DELETE FROM webhook");
      await api.pool.query("DELETE FROM outbox WHERE channel = 'webhook'");
      api.relay.start();
      off.relay.start();
    }
  });

  it("is counted apart in GET /stats", async () => {
    const content = (await api.call("GET", "/stats?channel=sms")).body.content as {
      groups: unknown[];
      test: unknown[];
    };
    const tests = (await api.pool.query("SELECT 1 FROM otp WHERE test AND channel = 'sms'")).rowCount;
    const real = (await api.pool.query("SELECT 1 FROM otp WHERE NOT test AND channel = 'sms'")).rowCount;
    expect(tests).toBeGreaterThanOrEqual(5);
    expect(content.test).toEqual([
      expect.objectContaining({ channel: "sms", sent: tests, delivered: tests, verified: 1 }),
    ]);
    expect(content.groups).toEqual([expect.objectContaining({ channel: "sms", sent: real })]);
  });

  it("stops being special when it expires", async () => {
    const target = "77015550011";
    await put({ target, expires_at: new Date(api.clock.now().getTime() + 60_000).toISOString() });
    expect((await api.call("GET", `/otp/${idOf(await sms(target))}`)).body.content).toMatchObject({ test: true });
    api.clock.advance(61_000);
    const after = (await api.call("GET", `/otp/${idOf(await sms(target))}`)).body.content;
    expect(after).toMatchObject({ test: false });
    expect((await api.call("GET", "/test-targets")).body.content).toEqual({
      test_targets: [expect.objectContaining({ target: phone })],
    });
  });
});

describe("a test target's create under OTP_RESEND=supersede", () => {
  let supersede: TestApi;
  beforeAll(async () => {
    supersede = await replica({ OTP_RESEND: "supersede" });
  });
  afterAll(async () => {
    await supersede?.close();
  });

  it("closes the target's older code and emits its otp.canceled (superseded), as an ordinary create does", async () => {
    const phone = "77015550020";
    // Every relay of this database: any would publish (and delete) the event before it is read.
    await supersede.relay.stop();
    await api.relay.stop();
    await off.relay.stop();
    try {
      await supersede.pool.query(
        "INSERT INTO webhook (id, url, events, secret_cipher, created_at) VALUES (gen_random_uuid(), 'https://example.com/hook', '{otp.canceled}', '\\x00', now())",
      );
      const older = await supersede.call("POST", "/sms", {
        phone,
        password: "1111",
        lifetime: 300,
        message: "Code {password}",
      });
      expect(older.body).toMatchObject({ status: true });
      const olderId = idOf(older);
      await put({ target: phone, password: "525252" });
      await new Promise((resolve) => setTimeout(resolve, 1_100)); // past the test-target cache's second
      const test = await supersede.call("POST", "/sms", { phone, lifetime: 300, message: "Code {password}" });
      expect((await supersede.call("GET", `/otp/${idOf(test)}`)).body.content).toMatchObject({ test: true });
      const status = (await supersede.call("GET", `/otp/${olderId}`)).body.content as Record<string, unknown>;
      expect(status.verification).toMatchObject({ status: "canceled", reason: "superseded" });
      const { rows } = await supersede.pool.query<{
        event: { type: string; payload: { data: Record<string, unknown> } };
      }>("SELECT event FROM outbox WHERE otp_id = $1 AND channel = 'webhook'", [olderId]);
      expect(rows.map((r) => r.event.type)).toEqual(["otp.canceled"]);
      expect(rows[0]?.event.payload.data).toMatchObject({ verification: { status: "canceled", reason: "superseded" } });
    } finally {
      await supersede.pool.query("DELETE FROM webhook");
      await supersede.pool.query("DELETE FROM outbox WHERE channel = 'webhook'");
      await api.call("DELETE", "/test-targets/sms/77015550020");
      supersede.relay.start();
      api.relay.start();
      off.relay.start();
    }
  });
});

describe("a test target's fixed code, guessed, under OTP_RESEND=supersede", () => {
  let supersede: TestApi;
  beforeAll(async () => {
    supersede = await replica({ OTP_RESEND: "supersede", OTP_CHECK_THROTTLE_AFTER: "0" });
  });
  afterAll(async () => {
    await supersede?.close();
  });

  it("a create that closes the guessed codes still keeps their wrong checks", async () => {
    const { send, guess } = await fixedCode(supersede, "77015550033", "494949");
    await send();
    for (let i = 0; i < 4; i++) expect((await guess("000000")).body).toEqual({ status: false });
    await send(); // closes the first code (superseded) in the statement that reads its wrong checks
    expect((await guess("000000")).body).toEqual({ status: false });
    expect((await guess("494949")).body).toMatchObject({ status: false, status_code: "attempts_exceeded" });
  });
});

describe("a test target's fixed code, guessed", () => {
  let unthrottled: TestApi;
  beforeAll(async () => {
    // Without the per-target throttle, so that only the per-code cap stands between a guesser and the code.
    unthrottled = await replica({ OTP_CHECK_THROTTLE_AFTER: "0" });
  });
  afterAll(async () => {
    await unthrottled?.close();
  });

  it("a new create keeps the wrong checks of the live codes before it: five wrong, a create, and the code is dead", async () => {
    const { send, guess } = await fixedCode(unthrottled, "77015550030", "434343");
    await send();
    for (let i = 0; i < 5; i++) expect((await guess("000000")).body).toEqual({ status: false });
    expect((await send()).status).toBe(200);
    expect((await guess("434343")).body).toMatchObject({ status: false, status_code: "attempts_exceeded" });
  });

  it("a verified code's wrong checks are not carried: a suite can test wrong codes, verify, and start again", async () => {
    const { send, guess } = await fixedCode(unthrottled, "77015550031", "464646");
    await send();
    for (let i = 0; i < 2; i++) await guess("000000");
    expect((await guess("464646")).body).toEqual({ status: true });
    await send();
    for (let i = 0; i < 4; i++) expect((await guess("000000")).body).toEqual({ status: false });
    expect((await guess("464646")).body).toEqual({ status: true });
  });

  it("keeps the target's failure counter alive while its codes live, as an ordinary create does", async () => {
    const target = "77015550032";
    await put({ target, password: "484848" });
    await sms(target, { lifetime: 60 });
    for (let i = 0; i < 5; i++) await check(target, "000000");
    api.clock.advance(3_000_000); // 50 minutes: the code has expired, its counter is kept an hour past that
    await sms(target, { lifetime: 3600 });
    api.clock.advance(700_000); // past the first code's hour: only the new code keeps the counter
    expect((await check(target, "000000")).body).toEqual({ status: false });
    expect((await check(target, "000000")).body).toMatchObject({ status: false, status_code: "check_throttled" });
  });
});
