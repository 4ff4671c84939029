import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENV_WEBHOOK_ID } from "../src/domain/webhooks/store.js";
import { startTestApi, type TestApi } from "./support/harness.js";

/**
 * Subscriptions sealed under an earlier OTP_SECRET (docs/lifecycle.md, "Webhook subscriptions";
 * docs/security.md): their secret no longer opens, so GET /webhooks marks them `unreadable` until
 * they are created again; the OTP_WEBHOOK_URL one is sealed again by every start.
 */

const db = useTestDatabase();
const broker = useTestBroker("api-webhooks-secret");
const envWebhook = {
  OTP_WEBHOOK_URL: "https://env.example.com/otp",
  OTP_WEBHOOK_SECRET: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
};
/** Two deployments of one database: the same service before and after OTP_SECRET was changed. */
let before: TestApi;
let after: TestApi;

beforeAll(async () => {
  before = await startTestApi({ pg: db(), broker, env: { ...envWebhook, OTP_SECRET: "webhooks, secret before" } });
  after = await startTestApi({ pg: db(), broker, env: { ...envWebhook, OTP_SECRET: "webhooks, secret after!" } });
});
afterAll(async () => {
  await after?.close();
  await before?.close();
});

const subscribe = async (on: TestApi, url: string) => {
  const answer = await on.call("POST", "/webhooks", { url, events: ["otp.*"] });
  expect(answer.status).toBe(200);
  const { secret: _, ...content } = answer.body.content as Record<string, unknown>;
  return content;
};
const listed = async (on: TestApi) => {
  const answer = await on.call("GET", "/webhooks");
  expect(answer.status).toBe(200);
  return (answer.body.content as { webhooks: Record<string, unknown>[] }).webhooks;
};

describe("GET /webhooks after a change of OTP_SECRET", () => {
  it("marks the subscriptions made under another secret unreadable, by the process that cannot open them", async () => {
    const old = await subscribe(before, "https://hooks.example.com/old");
    const recreated = await subscribe(after, "https://hooks.example.com/old");

    const seenAfter = await listed(after);
    expect(seenAfter.find((w) => w.id === old.id)).toEqual({ ...old, unreadable: true });
    expect(seenAfter.find((w) => w.id === recreated.id)).toEqual(recreated);
    const seenBefore = await listed(before);
    expect(seenBefore.find((w) => w.id === old.id)).toEqual(old);
    expect(seenBefore.find((w) => w.id === recreated.id)).toEqual({ ...recreated, unreadable: true });
    // Never the sealed secret itself, in any form.
    for (const shown of [seenAfter, seenBefore]) expect(Object.keys(shown[0] ?? {})).not.toContain("secret_cipher");

    // A PATCH keeps the secret, so it does not make one readable: only a new subscription does.
    expect((await after.call("PATCH", `/webhooks/${old.id}`, { url: "https://hooks.example.com/new" })).status).toBe(
      200,
    );
    expect((await listed(after)).find((w) => w.id === old.id)).toMatchObject({ unreadable: true });
  });

  it("the OTP_WEBHOOK_URL subscription is sealed again at start, with the secret of the last process started", async () => {
    const env = { id: ENV_WEBHOOK_ID, url: envWebhook.OTP_WEBHOOK_URL, source: "env" };
    expect((await listed(after)).find((w) => w.id === ENV_WEBHOOK_ID)).toEqual({
      ...env,
      events: ["otp.*"],
      created_at: expect.any(String),
    });
    expect((await listed(before)).find((w) => w.id === ENV_WEBHOOK_ID)).toMatchObject({ ...env, unreadable: true });
  });
});
