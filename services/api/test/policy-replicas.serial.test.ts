import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "./support/harness.js";

const db = useTestDatabase();
const broker = useTestBroker("api-policy-replicas");
let api: TestApi;
let replica: TestApi;

beforeAll(async () => {
  api = await startTestApi({ pg: db(), broker });
  replica = await startTestApi({ pg: db(), broker, clock: api.clock });
});
afterAll(async () => {
  await api?.close();
  await replica?.close();
});

let counter = 0;
const sms = (target: TestApi) =>
  target.call("POST", "/sms", {
    phone: `7701400${String(counter++).padStart(4, "0")}`,
    password: "1234",
    lifetime: 300,
    message: "Code {password}",
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Creates on the replica every 20 ms from the moment `change` has answered until one is refused: how long that took. */
async function secondsUntilRefusedOnReplica(change: () => Promise<unknown>): Promise<number> {
  await change();
  const changedAt = performance.now();
  for (;;) {
    if ((await sms(replica)).status === 403) return (performance.now() - changedAt) / 1000;
    if (performance.now() - changedAt > 5000) return Number.POSITIVE_INFINITY;
    await sleep(20);
  }
}

describe("a policy change on one replica", () => {
  it("is in force on another within a second, under steady traffic", async () => {
    const traffic = (async () => {
      for (let i = 0; i < 30; i++) {
        expect((await sms(replica)).status).toBe(200);
        await sleep(20);
      }
    })();
    await traffic; // the replica's copy is in use and fresh
    const seconds = await secondsUntilRefusedOnReplica(() =>
      api.call("POST", "/policy/sms", { mode: "enforce", countries: { deny: ["KZ"] } }),
    );
    expect(seconds).toBeLessThan(1);
    await api.call("POST", "/policy/sms", { mode: "off", countries: { deny: [] } });
  });

  it("and after the replica was idle, at its first create", async () => {
    await sleep(1200);
    expect((await sms(replica)).status).toBe(200);
    await sleep(1500);
    await api.call("POST", "/policy/sms", { mode: "enforce", countries: { deny: ["KZ"] } });
    expect((await sms(replica)).status).toBe(403);
    await api.call("POST", "/policy/sms", { mode: "off", countries: { deny: [] } });
  });
});
