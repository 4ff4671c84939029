import { useTestBroker } from "@otp/broker/testing";
import { decrypt } from "@otp/contracts";
import { useTestDatabase } from "@otp/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENV_WEBHOOK_ID } from "../src/domain/webhooks/store.js";
import { freshPhone, startTestApi, type TestApi } from "./support/harness.js";
import { checkSms, KEEP_OUTBOX, sendSms, webhookEvents } from "./support/lifecycle.js";

/**
 * `PATCH /webhooks/{id}` (docs/lifecycle.md, "Webhook subscriptions"): a subscription's URL or
 * events change under the same id and secret, with the rules of a create; the OTP_WEBHOOK_URL one
 * is its variables' business.
 */

const db = useTestDatabase();
const broker = useTestBroker("api-webhooks-update");
let api: TestApi;
/** The same database behind HTTP Basic auth. */
let locked: TestApi;

beforeAll(async () => {
  const env = {
    OTP_WEBHOOK_URL: "https://env.example.com/otp",
    OTP_WEBHOOK_SECRET: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
  };
  api = await startTestApi({ pg: db(), broker, relay: KEEP_OUTBOX, env });
  locked = await startTestApi({
    pg: db(),
    broker,
    relay: KEEP_OUTBOX,
    env: { ...env, HTTP_AUTH_USERNAME: "admin", HTTP_AUTH_PASSWORD: "s3cret" },
  });
});
afterAll(async () => {
  await locked?.close();
  await api?.close();
});

interface Created {
  id: string;
  url: string;
  events: string[];
  source: string;
  created_at: string;
  secret: string;
}

const create = async (url = "https://hooks.example.com/old", events = ["otp.*"]): Promise<Created> => {
  const answer = await api.call("POST", "/webhooks", { url, events });
  expect(answer.status).toBe(200);
  return answer.body.content as unknown as Created;
};
/** A subscription as GET /webhooks lists it: without its secret. */
const shown = ({ secret: _, ...content }: Created) => content;
const patch = (id: string, body: unknown, on: TestApi = api, headers?: Record<string, string>) =>
  on.call("PATCH", `/webhooks/${id}`, body, headers);
const listed = async (id: string) =>
  ((await api.call("GET", "/webhooks")).body.content as { webhooks: { id: string }[] }).webhooks.find(
    (w) => w.id === id,
  );
const sealedSecret = async (id: string): Promise<Buffer> =>
  (await api.pool.query("SELECT secret_cipher FROM webhook WHERE id = $1", [id])).rows[0].secret_cipher;

describe("PATCH /webhooks/{id}", () => {
  it("changes the URL, then the events, keeping the id, the secret and created_at; GET shows the change", async () => {
    const { secret, ...created } = await create();
    const sealed = await sealedSecret(created.id);

    const moved = await patch(created.id, { url: " https://hooks.example.com/new " });
    expect(moved.status).toBe(200);
    const afterUrl = { ...created, url: "https://hooks.example.com/new" };
    expect(moved.body).toEqual({ status: true, content: afterUrl });
    expect(await listed(created.id)).toEqual(afterUrl);

    const narrowed = await patch(created.id, { events: ["otp.verified", "otp.expired", "otp.verified"] });
    const afterEvents = { ...afterUrl, events: ["otp.verified", "otp.expired"] };
    expect(narrowed.body).toEqual({ status: true, content: afterEvents });
    expect(await listed(created.id)).toEqual(afterEvents);

    const both = await patch(created.id, { url: "https://hooks.example.com/both", events: ["otp.*"] });
    expect(both.body).toEqual({ status: true, content: { ...created, url: "https://hooks.example.com/both" } });

    // The very sealed bytes stay, and they open (keyring, bound to the id) to the secret POST answered:
    // the receiver keeps verifying with it, as the dispatcher opens it the same way to sign.
    expect(await sealedSecret(created.id)).toEqual(sealed);
    expect(decrypt(api.keys, await sealedSecret(created.id), created.id)).toBe(secret);
    expect(JSON.stringify(both.body)).not.toContain("whsec_");
  });

  it("new events decide which events the subscription gets from then on", async () => {
    const { id } = await create();
    expect((await patch(id, { events: ["otp.verified"] })).status).toBe(200);
    const phone = freshPhone();
    const otpId = await sendSms(api, phone, "246810");
    expect((await checkSms(api, phone, "246810")).body).toEqual({ status: true });
    const mine = (await webhookEvents(api, { otpId })).filter((e) => e.subscription_id === id);
    expect(mine.map((e) => e.type)).toEqual(["otp.verified"]);
    await api.call("DELETE", `/webhooks/${id}`);
  });

  it.each([
    ["http://10.1.2.3/hook", "10.1.2.3 is not a public address (allowed with OTP_WEBHOOK_ALLOW_PRIVATE=true)"],
    ["http://localhost:8080/hook", "localhost is a loopback host (allowed with OTP_WEBHOOK_ALLOW_PRIVATE=true)"],
    ["http://169.254.169.254/latest/meta-data", "169.254.169.254 is not a public address"],
    ["https://user:pw@hooks.example.com/x", "must not contain credentials"],
    ["ftp://hooks.example.com/x", "must be an http(s) URL"],
  ])("refuses %s with a 400 naming the problem, changing nothing", async (url, message) => {
    const created = shown(await create());
    const answer = await patch(created.id, { url, events: ["otp.verified"] });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({
      status: false,
      status_code: "validation",
      message: expect.stringContaining(message),
    });
    expect(answer.body.message).toMatch(/^"url" /);
    expect(await listed(created.id)).toEqual(created);
  });

  it.each([
    ["no body", undefined, '"url" or "events" must be given'],
    ["{}", {}, '"url" or "events" must be given'],
    ["a secret alone", { secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }, "the secret cannot be changed"],
    ['{"url": null}', { url: null }, '"url" must be a string'],
    ['{"url": 7}', { url: 7 }, '"url" must be a string'],
    ['{"events": []}', { events: [] }, '"events" must not be empty'],
    ['{"events": "otp.*"}', { events: "otp.*" }, '"events" must be an array of event types'],
    ['{"events": ["otp.sent"]}', { events: ["otp.sent"] }, '"events" must hold "otp.*" or event types'],
    ["a URL over 2048 characters", { url: `https://hooks.example.com/${"x".repeat(2048)}` }, "at most 2048 characters"],
  ])("refuses %s with a 400 validation, changing nothing", async (_label, body, message) => {
    const created = shown(await create());
    const answer = await patch(created.id, body);
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({
      status: false,
      status_code: "validation",
      message: expect.stringContaining(message),
    });
    expect(await listed(created.id)).toEqual(created);
  });

  it("a body that is not JSON is a 400 bad_request", async () => {
    const { id } = await create();
    const answer = await patch(id, "{not json", api, { "Content-Type": "application/json" });
    expect(answer).toMatchObject({ status: 400, body: { status: false, status_code: "bad_request" } });
  });

  it("refuses the OTP_WEBHOOK_URL subscription with 409 conflict, leaving it as its variables say", async () => {
    const before = await listed(ENV_WEBHOOK_ID);
    expect(before).toMatchObject({ source: "env", url: "https://env.example.com/otp" });
    const answer = await patch(ENV_WEBHOOK_ID, { url: "https://hooks.example.com/mine" });
    expect(answer.status).toBe(409);
    expect(answer.body).toEqual({
      status: false,
      status_code: "conflict",
      message: "This subscription is configured by OTP_WEBHOOK_URL; change the variable instead",
    });
    expect(await listed(ENV_WEBHOOK_ID)).toEqual(before);
  });

  it("an unknown id is a 404 not_found, an id that is not a UUID a 400", async () => {
    const unknown = await patch("6f1c7d3e-2b4a-4c5d-8e9f-0a1b2c3d4e5f", { url: "https://hooks.example.com/x" });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({
      status: false,
      status_code: "not_found",
      message: "No webhook subscription with this id",
    });
    const { id } = await create();
    await api.call("DELETE", `/webhooks/${id}`);
    expect((await patch(id, { events: ["otp.*"] })).status).toBe(404);
    const malformed = await patch("nope", { url: "https://hooks.example.com/x" });
    expect(malformed.body).toEqual({ status: false, status_code: "validation", message: '"id" must be a UUID' });
  });

  it("needs HTTP Basic credentials like the other routes when they are set", async () => {
    const created = shown(await create());
    const body = { url: "https://hooks.example.com/authed" };
    const refused = await patch(created.id, body, locked);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("WWW-Authenticate")).toBe('Basic realm="otp"');
    expect(refused.body).toEqual({ status: false, status_code: "unauthorized", message: expect.any(String) });
    expect(await listed(created.id)).toEqual(created);
    const authorization = `Basic ${Buffer.from("admin:s3cret").toString("base64")}`;
    const accepted = await patch(created.id, body, locked, { Authorization: authorization });
    expect(accepted.body).toEqual({ status: true, content: { ...created, ...body } });
  });

  it("is named in the Allow header of a 405 on the path", async () => {
    const answer = await api.call("PUT", `/webhooks/${ENV_WEBHOOK_ID}`, { url: "https://hooks.example.com/x" });
    expect(answer.status).toBe(405);
    expect(answer.headers.get("Allow")?.split(", ").sort()).toEqual(["DELETE", "PATCH"]);
  });

  it("is in the OpenAPI document with its path parameter, body and answers", async () => {
    const doc = (await api.call("GET", "/openapi.json")).body as {
      paths: Record<string, Record<string, Record<string, unknown>>>;
    };
    const operation = doc.paths["/webhooks/{id}"]?.patch as {
      parameters: { in: string; name: string }[];
      requestBody: { content: Record<string, { schema: unknown }> };
      responses: Record<string, unknown>;
    };
    expect(operation.parameters.map((p) => `${p.in}:${p.name}`)).toEqual(["path:id"]);
    expect(JSON.stringify(operation.requestBody.content["application/json"]?.schema)).toContain('"events"');
    expect(Object.keys(operation.responses).sort()).toEqual(["200", "400", "401", "404", "409", "500", "503"]);
    expect(Object.keys(doc.paths["/webhooks/{id}"] ?? {}).sort()).toEqual(["delete", "patch"]);
  });
});
