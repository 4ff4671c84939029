import { useTestBroker } from "@otp/broker/testing";
import { decrypt, WEBHOOK_SECRET_PATTERN } from "@otp/contracts";
import { useTestDatabase } from "@otp/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENV_WEBHOOK_ID } from "../src/domain/webhooks/store.js";
import { maskTarget } from "../src/mask.js";
import { startTestApi, type TestApi } from "./support/harness.js";

/** Webhook subscriptions (docs/lifecycle.md, "Webhook subscriptions"): the API, the URL rules, OTP_WEBHOOK_URL. */

const db = useTestDatabase();
const broker = useTestBroker("api-lifecycle-webhooks");
let api: TestApi;

beforeAll(async () => {
  api = await startTestApi({ pg: db(), broker });
});
afterAll(() => api?.close());

const create = (body: unknown, on: TestApi = api) => on.call("POST", "/webhooks", body);
const list = async (on: TestApi = api) =>
  ((await on.call("GET", "/webhooks")).body.content as { webhooks: Record<string, unknown>[] }).webhooks;

describe("POST, GET, DELETE /webhooks", () => {
  it("answers the id and a generated whsec_ secret of 24 random bytes; GET never shows secrets", async () => {
    const answer = await create({ url: "https://hooks.example.com/otp", events: ["otp.*"] });
    expect(answer.status).toBe(200);
    const content = answer.body.content as { id: string; secret: string; events: string[]; created_at: string };
    expect(content).toMatchObject({ url: "https://hooks.example.com/otp", events: ["otp.*"], source: "api" });
    expect(content.secret).toMatch(WEBHOOK_SECRET_PATTERN);
    expect(Buffer.from(content.secret.slice("whsec_".length), "base64").length).toBeGreaterThanOrEqual(24);
    const other = await create({ url: "https://hooks.example.com/otp", events: ["otp.*"] });
    expect((other.body.content as { secret: string }).secret).not.toBe(content.secret);
    const listed = await list();
    expect(listed).toContainEqual({
      id: content.id,
      url: "https://hooks.example.com/otp",
      events: ["otp.*"],
      source: "api",
      created_at: content.created_at,
    });
    expect(JSON.stringify(listed)).not.toContain("whsec_");
    // Stored sealed, bound to its id: the dispatcher opens it with the keyring.
    const { rows } = await api.pool.query("SELECT secret_cipher FROM webhook WHERE id = $1", [content.id]);
    expect(decrypt(api.keys, rows[0].secret_cipher, content.id)).toBe(content.secret);
  });

  it("keeps a client's whsec_ secret and each event type once", async () => {
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const answer = await create({
      url: "http://hooks.example.com/otp",
      events: ["otp.verified", "otp.expired", "otp.verified"],
      secret,
    });
    expect(answer.body.content).toMatchObject({ events: ["otp.verified", "otp.expired"], secret });
  });

  it("deletes one; a second DELETE is a 404", async () => {
    const id = (
      (await create({ url: "https://hooks.example.com/x", events: ["otp.created"] })).body.content as {
        id: string;
      }
    ).id;
    expect((await api.call("DELETE", `/webhooks/${id}`)).body).toEqual({ status: true });
    expect((await list()).map((w) => w.id)).not.toContain(id);
    expect((await api.call("DELETE", `/webhooks/${id}`)).status).toBe(404);
    expect((await api.call("DELETE", "/webhooks/nope")).status).toBe(400);
  });

  it.each([
    [{ events: ["otp.*"] }, '"url"'],
    [{ url: "ftp://hooks.example.com", events: ["otp.*"] }, '"url" must be an http(s) URL'],
    [{ url: "not a url", events: ["otp.*"] }, '"url" must be an absolute http(s) URL'],
    [{ url: "https://user:pw@hooks.example.com", events: ["otp.*"] }, '"url" must not contain credentials'],
    [{ url: "https://hooks.example.com" }, '"events"'],
    [{ url: "https://hooks.example.com", events: [] }, '"events" must not be empty'],
    [{ url: "https://hooks.example.com", events: ["otp.sent"] }, '"events" must hold "otp.*" or event types'],
    [{ url: "https://hooks.example.com", events: ["otp.*"], secret: "hunter2" }, '"secret" must be whsec_'],
    // 16 bytes: a valid Standard Webhooks form, but a key shorter than the 24 bytes the service generates.
    [
      {
        url: "https://hooks.example.com",
        events: ["otp.*"],
        secret: `whsec_${Buffer.alloc(16, 7).toString("base64")}`,
      },
      '"secret" must be whsec_ followed by base64 of 24 to 64 bytes',
    ],
  ])("refuses %j with a 400 naming the problem", async (body, message) => {
    const before = (await list()).length;
    const answer = await create(body);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ status: false, status_code: "validation" });
    expect(answer.body.message).toContain(message);
    expect((await list()).length).toBe(before);
  });

  it.each([
    "http://127.0.0.1:8080/hook",
    "http://localhost/hook",
    "http://10.1.2.3/hook",
    "http://192.168.1.10/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]/hook",
    "http://[fd00::1]/hook",
    "http://[fe80::1]/hook",
    // IPv4-compatible IPv6 (deprecated `::/96`): loopback and private IPv4 inside.
    "http://[::7f00:1]/hook",
    "http://[::10.0.0.1]/hook",
    "http://[::ffff:10.0.0.1]/hook",
  ])("refuses the private address of %s unless OTP_WEBHOOK_ALLOW_PRIVATE=true", async (url) => {
    const answer = await create({ url, events: ["otp.*"] });
    expect(answer.status).toBe(400);
    expect(answer.body.message).toMatch(/not a public address|loopback host/);
    expect(answer.body.message).toContain("OTP_WEBHOOK_ALLOW_PRIVATE=true");
  });

  it("accepts private addresses with OTP_WEBHOOK_ALLOW_PRIVATE=true", async () => {
    const open = await startTestApi({ pg: db(), broker, env: { OTP_WEBHOOK_ALLOW_PRIVATE: "true" } });
    try {
      const answer = await create({ url: "http://127.0.0.1:8080/hook", events: ["otp.*"] }, open);
      expect(answer.status).toBe(200);
      await open.call("DELETE", `/webhooks/${(answer.body.content as { id: string }).id}`);
    } finally {
      await open.close();
    }
  });

  it("keeps to 100 subscriptions when a create races another for the last place", async () => {
    const existing = (await list()).length;
    const fill = (n: number, from: number, on: { query: typeof api.pool.query } = api.pool) =>
      on.query(
        `INSERT INTO webhook (id, url, events, secret_cipher, created_at)
         SELECT gen_random_uuid(), 'https://hooks.example.com/' || i, '{otp.*}', '\\x00', now()
         FROM generate_series($2::int, $2::int + $1::int - 1) AS i`,
        [n, from],
      );
    await fill(99 - existing, 1);
    // Another create holds the last place, not yet committed: this one must wait for it, then count it.
    const other = await api.pool.connect();
    try {
      await other.query("BEGIN");
      await other.query("LOCK TABLE webhook IN SHARE ROW EXCLUSIVE MODE");
      await fill(1, 1000, other);
      let settled = false;
      const racing = create({ url: "https://hooks.example.com/late", events: ["otp.*"] }).finally(() => {
        settled = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(settled).toBe(false);
      await other.query("COMMIT");
      const answer = await racing;
      expect(answer.status).toBe(400);
      expect(answer.body.message).toBe("At most 100 webhook subscriptions; delete one first");
      expect(await list()).toHaveLength(100);
    } finally {
      await other.query("ROLLBACK").catch(() => {});
      other.release();
      await api.pool.query("DELETE FROM webhook WHERE url LIKE 'https://hooks.example.com/%'");
    }
  });
});

describe("OTP_WEBHOOK_URL", () => {
  const secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
  const envOf = (url: string, extra: Record<string, string> = {}) => ({
    OTP_WEBHOOK_URL: url,
    OTP_WEBHOOK_SECRET: secret,
    ...extra,
  });

  it("is upserted at start as the env subscription, updated when it changes, removed when unset", async () => {
    const first = await startTestApi({ pg: db(), broker, env: envOf("https://a.example.com/otp") });
    await first.close();
    const env = async () => (await list()).filter((w) => w.source === "env");
    expect(await env()).toEqual([
      {
        id: ENV_WEBHOOK_ID,
        url: "https://a.example.com/otp",
        events: ["otp.*"],
        source: "env",
        created_at: expect.any(String),
      },
    ]);
    const second = await startTestApi({
      pg: db(),
      broker,
      env: envOf("https://b.example.com/otp", { OTP_WEBHOOK_EVENTS: "otp.verified, otp.expired" }),
    });
    await second.close();
    expect(await env()).toMatchObject([
      { id: ENV_WEBHOOK_ID, url: "https://b.example.com/otp", events: ["otp.verified", "otp.expired"] },
    ]);
    const { rows } = await api.pool.query("SELECT secret_cipher FROM webhook WHERE id = $1", [ENV_WEBHOOK_ID]);
    expect(decrypt(api.keys, rows[0].secret_cipher, ENV_WEBHOOK_ID)).toBe(secret);
    const refused = await api.call("DELETE", `/webhooks/${ENV_WEBHOOK_ID}`);
    expect(refused).toMatchObject({ status: 409, body: { status_code: "conflict" } });
    const third = await startTestApi({ pg: db(), broker });
    await third.close();
    expect(await env()).toEqual([]);
  });

  it("refuses to start on a private URL, a missing secret or an unknown event", async () => {
    await expect(startTestApi({ pg: db(), broker, env: envOf("http://127.0.0.1/hook") })).rejects.toThrow(
      /OTP_WEBHOOK_URL: 127\.0\.0\.1 is not a public address/,
    );
    await expect(startTestApi({ pg: db(), broker, env: { OTP_WEBHOOK_URL: "https://a.example.com" } })).rejects.toThrow(
      /OTP_WEBHOOK_SECRET: must be set with OTP_WEBHOOK_URL/,
    );
    await expect(
      startTestApi({ pg: db(), broker, env: envOf("https://a.example.com", { OTP_WEBHOOK_EVENTS: "otp.sent" }) }),
    ).rejects.toThrow(/OTP_WEBHOOK_EVENTS: must be otp\.\*/);
  });
});

describe("otp_mask_target (SQL) and maskTarget (the API's logs) agree", () => {
  it.each([
    "77011234567",
    "998901234567",
    "12345678",
    "1234567",
    "123",
    "12",
    "1",
    "",
    "-1001234567890",
    "987654321",
    "foobar@example.com",
    "a@b.co",
    "@example.com",
    "x@y",
    "first.last+tag@sub.example.org",
  ])("%j", async (target) => {
    const { rows } = await api.pool.query("SELECT otp_mask_target($1) AS masked", [target]);
    expect(rows[0].masked).toBe(maskTarget(target));
  });
});
