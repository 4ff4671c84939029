import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPhone, startTestApi, type TestApi } from "./support/harness.js";

const db = useTestDatabase();
const broker = useTestBroker("api-rotation");
let before: TestApi;
let after: TestApi;

// Two deployments of one database: the same service before and after OTP_SECRET was changed.
beforeAll(async () => {
  before = await startTestApi({ pg: db(), broker, env: { OTP_SECRET: "the secret before rotation" } });
  after = await startTestApi({
    pg: db(),
    broker,
    env: { OTP_SECRET: "the secret after rotation!" },
    clock: before.clock,
  });
});
afterAll(async () => {
  await after?.close();
  await before?.close();
});

describe("rows sealed under an old OTP_SECRET", () => {
  it("GET /password answers 404 not_found, not 500, and logs a warning naming the OTP", async () => {
    const phone = freshPhone();
    const created = await before.call("POST", "/sms", { phone, password: "rot-1", lifetime: 60, message: "m" });
    expect(created.status).toBe(200);
    const id = (created.body.content as { id: string }).id;
    // The key that sealed it still opens it: the row itself is sound.
    expect((await before.call("GET", `/password?target=${phone}`)).body).toEqual({
      status: true,
      content: { password: "rot-1" },
    });

    const answer = await after.call("GET", `/password?target=${phone}`);
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual({ status: false, status_code: "not_found", message: "No live OTP for this target" });
    const warning = after.logs
      .map((line) => JSON.parse(line) as { level?: number; msg?: string; otpId?: string })
      .find((line) => line.otpId === id);
    expect(warning).toMatchObject({ level: 40, msg: expect.stringContaining("does not decrypt") });
    expect(JSON.stringify(after.logs)).not.toContain("rot-1");
  });
});
