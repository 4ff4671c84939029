import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestApi, type TestApi } from "./support/harness.js";

/**
 * The cap on test targets (docs/test-targets.md, "`POST /test-targets`"): every process keeps them
 * all in memory and re-reads them every second, so at most 1,000 are unexpired at once, all
 * channels together, whichever replica adds them.
 */

const db = useTestDatabase();
const broker = useTestBroker("api-tt-cap");
let api: TestApi;
let replica: TestApi;

beforeAll(async () => {
  const env = { OTP_TEST_TARGETS: "true" };
  api = await startTestApi({ pg: db(), broker, env });
  replica = await startTestApi({ pg: db(), broker, clock: api.clock, env });
});
afterAll(async () => {
  await replica?.close();
  await api?.close();
});

const inDays = (days: number) => new Date(api.clock.now().getTime() + days * 86_400_000).toISOString();
const post = (on: TestApi, target: string) =>
  on.call("POST", "/test-targets", { channel: "email", target, password: "424242", expires_at: inDays(30) });

it("refuses the 1,001st unexpired one, even sent in parallel to two replicas; replacing one still works", async () => {
  // 999 stored straight away (the API's own rows), and expired ones, which do not count.
  await api.pool.query(
    `INSERT INTO test_target (channel, target, password_digest, password_cipher, expires_at, created_at)
     SELECT 'email', 'seed' || i || '@example.com', '\\x00', '\\x00', $1, $2 FROM generate_series(1, 999) i`,
    [inDays(30), api.clock.now()],
  );
  await api.pool.query(
    `INSERT INTO test_target (channel, target, password_digest, password_cipher, expires_at, created_at)
     SELECT 'sms', '7701' || (5550000 + i), '\\x00', '\\x00', $1, $1 FROM generate_series(1, 50) i`,
    [new Date(api.clock.now().getTime() - 1000)],
  );
  const answers = await Promise.all(
    Array.from({ length: 6 }, (_, i) => post(i % 2 === 0 ? api : replica, `new${i}@example.com`)),
  );
  expect(answers.map((a) => a.status).sort()).toEqual([200, 400, 400, 400, 400, 400]);
  expect(answers.find((a) => a.status === 400)?.body).toEqual({
    status: false,
    status_code: "validation",
    message: "At most 1000 test targets; delete one first",
  });
  const { rows } = await api.pool.query("SELECT count(*)::int AS n FROM test_target WHERE expires_at > now()");
  expect(rows[0].n).toBe(1000);
  expect((await post(replica, "seed7@example.com")).status).toBe(200);
  // An expired one posted again is one more, not a replacement.
  expect(
    (
      await api.call("POST", "/test-targets", {
        channel: "sms",
        target: "77015550001",
        password: "424242",
        expires_at: inDays(30),
      })
    ).status,
  ).toBe(400);
  expect((await api.call("DELETE", "/test-targets/email/seed8@example.com")).status).toBe(200);
  expect((await post(api, "another@example.com")).status).toBe(200);
});
