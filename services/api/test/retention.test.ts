import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { metricValue } from "@otp/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPhone, startTestApi, type TestApi } from "./support/harness.js";

/**
 * Built-in retention (docs/operations.md, "Retention"): OTP rows whose code expired more than
 * OTP_RETENTION ago, and more than the longest window any count looks back (limit rules, the
 * destination policy, the statistics' day), are deleted by the API in batches, with their
 * `otp_policy` rows, while creates and checks go on.
 */

const db = useTestDatabase();
const broker = useTestBroker("api-retention");
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
let api: TestApi;
/** A second replica of `api`: same database, same clock. */
let replica: TestApi;

beforeAll(async () => {
  const options = { pg: db(), broker, env: { OTP_RETENTION: "3600" }, retention: { batchSize: 500 } };
  api = await startTestApi(options);
  replica = await startTestApi({ ...options, clock: api.clock });
});
afterAll(async () => {
  await api?.close();
  await replica?.close();
});

/**
 * `n` rows as an older version of the service left them (random v4 ids), targets `<marker>-<i>`,
 * whose codes expired `expiredAgoMs` before the API's clock, each with a policy record.
 */
async function seed(marker: string, n: number, expiredAgoMs: number): Promise<void> {
  const expireAt = new Date(api.clock.now().getTime() - expiredAgoMs);
  await api.pool.query(
    `WITH o AS (INSERT INTO otp (id, channel, target, password_digest, password_cipher, created_at, expire_at)
       SELECT gen_random_uuid(), 'sms', $1 || '-' || g, sha256(g::text::bytea), '\\x00'::bytea,
         $3::timestamptz - interval '5 minutes', $3::timestamptz
       FROM generate_series(1, $2::int) g RETURNING id, created_at)
     INSERT INTO otp_policy (otp_id, channel, country, created_at, decision) SELECT id, 'sms', 'KZ', created_at, 'allow' FROM o`,
    [marker, n, expireAt],
  );
}

async function rowsOf(marker: string): Promise<{ otp: number; otpPolicy: number }> {
  const { rows } = await api.pool.query<{ otp: number; otp_policy: number }>(
    `SELECT (SELECT count(*) FROM otp WHERE target LIKE $1 || '-%')::int AS otp,
       (SELECT count(*) FROM otp_policy r WHERE NOT EXISTS (SELECT 1 FROM otp o WHERE o.id = r.otp_id))::int AS otp_policy`,
    [marker],
  );
  return { otp: rows[0]?.otp ?? -1, otpPolicy: rows[0]?.otp_policy ?? -1 };
}

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricValue(await (await api.app.request("/metrics")).text(), name, labels);
}

/** Creates and checks, right and wrong, on fresh phones until `until` settles; every answer's HTTP status. */
async function load(until: Promise<unknown>): Promise<{ statuses: number[]; phones: string[] }> {
  let done = false;
  void until.finally(() => {
    done = true;
  });
  const statuses: number[] = [];
  const phones: string[] = [];
  while (!done || phones.length < 5) {
    const phone = freshPhone();
    phones.push(phone);
    const create = await api.call("POST", "/sms", { phone, password: "424242", lifetime: 300, message: "m" });
    const wrong = await api.call("GET", `/sms/check?phone=${phone}&password=000000`);
    const right = await api.call("GET", `/sms/check?phone=${phone}&password=424242`);
    statuses.push(create.status, wrong.status, right.status);
    expect([create.body.status, wrong.body.status, right.body.status]).toEqual([true, false, true]);
  }
  return { statuses, phones };
}

describe("retention", () => {
  it("deletes rows past the setting in batches, with their policy records, while creates and checks go on", async () => {
    await seed("old", 2_400, 3 * DAY);
    // Older than OTP_RETENTION (an hour) but inside the statistics' day: kept.
    await seed("young", 300, 23 * HOUR);
    const pass = api.retention.pass();
    const { statuses, phones } = await load(pass);
    expect(await pass).toEqual({ otp: 2_400, otpPolicy: 2_400, batches: 5, skipped: false });
    expect(new Set(statuses)).toEqual(new Set([200]));
    expect(await rowsOf("old")).toEqual({ otp: 0, otpPolicy: 0 });
    expect((await rowsOf("young")).otp).toBe(300);
    const created = await api.pool.query("SELECT 1 FROM otp WHERE target = ANY($1::text[])", [phones]);
    expect(created.rowCount).toBe(phones.length);
    expect(await metric("otp_retention_deleted_total", { table: "otp" })).toBe(2_400);
    expect(await metric("otp_retention_deleted_total", { table: "otp_policy" })).toBe(2_400);
  });

  it("shows the age of the row it deletes next", async () => {
    // The young rows were created 23 h 5 min before the clock, and expire first.
    const age = await metric("otp_oldest_row_age_seconds");
    expect(age).toBeGreaterThan(23 * 3600 + 4 * 60);
    expect(age).toBeLessThan(23 * 3600 + 6 * 60 + 60);
  });

  it("keeps what a limit rule longer than the retention still counts: its window stays full", async () => {
    await api.call("POST", "/limit/call", { phones: [{ minutes: 3 * 24 * 60, rate: 2 }] });
    const phone = freshPhone();
    const call = () => api.call("POST", "/call", { phone, password: "5151", lifetime: 600 });
    expect((await call()).body.status).toBe(true);
    expect((await call()).body.status).toBe(true);
    api.clock.advance(2 * DAY);
    await api.retention.pass();
    expect((await call()).body).toMatchObject({ status: false, status_code: "phone_limit" });
    // Once the rule's three days have passed, the rows go and the phone may receive codes again.
    api.clock.advance(1.5 * DAY);
    await api.retention.pass();
    const left = await api.pool.query("SELECT 1 FROM otp WHERE target = $1", [phone]);
    expect(left.rowCount).toBe(0);
    expect((await call()).body.status).toBe(true);
    await api.call("POST", "/limit/call", { phones: [] });
  });

  it("keeps the evidence of a running streak of guard suspensions, whatever max_block_minutes says now", async () => {
    // A suspension set three days ago under a long max_block_minutes, still running; the policy now
    // says 60 minutes, whose reach (window + 2 × max block) alone is three hours.
    const guard = { prefix_digits: 6, window_minutes: 60, min_sent: 20, min_conversion: 0.2, lag_seconds: 0 };
    const set = await api.call("POST", "/policy/sms", {
      mode: "monitor",
      conversion_guard: { ...guard, block_minutes: 60, max_block_minutes: 60 },
    });
    expect(set.status).toBe(200);
    const now = api.clock.now().getTime();
    await api.pool.query(
      `INSERT INTO policy_block (channel, prefix, rule, sent, verified, since, until, strikes)
       VALUES ('sms', '770299', 'conversion_guard', 40, 0, $1, $2, 3)`,
      [new Date(now - 3 * DAY), new Date(now + HOUR)],
    );
    try {
      await seed("streak", 50, 2 * DAY);
      await api.retention.pass();
      expect((await rowsOf("streak")).otp).toBe(50);
      // Once the streak is over (its suspension ended longer ago than max_block_minutes), they go.
      await api.pool.query("UPDATE policy_block SET until = $1 WHERE prefix = '770299'", [new Date(now - 2 * HOUR)]);
      await api.retention.pass();
      expect((await rowsOf("streak")).otp).toBe(0);
    } finally {
      await api.pool.query("DELETE FROM policy_block WHERE prefix = '770299'");
      await api.pool.query("DELETE FROM policy WHERE channel = 'sms'");
    }
  });

  it("two replicas' passes at once: both finish without an error, and every row is deleted once", async () => {
    await seed("both", 3_000, 2 * DAY);
    const before = await metric("otp_retention_deleted_total", { table: "otp" });
    const [a, b] = await Promise.all([api.retention.pass(), replica.retention.pass()]);
    expect(a.otp + b.otp).toBe(3_000);
    expect(a.otpPolicy + b.otpPolicy).toBe(3_000);
    expect(await rowsOf("both")).toEqual({ otp: 0, otpPolicy: 0 });
    const replicaCount = metricValue(
      await (await replica.app.request("/metrics")).text(),
      "otp_retention_deleted_total",
      {
        table: "otp",
      },
    );
    expect((await metric("otp_retention_deleted_total", { table: "otp" })) - before + replicaCount).toBe(3_000);
  });

  it("OTP_RETENTION=off keeps every row", async () => {
    const off = await startTestApi({ pg: db(), broker, env: { OTP_RETENTION: "off" }, clock: api.clock });
    try {
      await seed("off", 10, 30 * DAY);
      expect(await off.retention.pass()).toEqual({ otp: 0, otpPolicy: 0, batches: 0, skipped: false });
      expect((await rowsOf("off")).otp).toBe(10);
    } finally {
      await off.close();
    }
  });

  it("gives new OTPs time-ordered ids (UUIDv7)", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const answer = await api.call("POST", "/sms", {
        phone: freshPhone(),
        password: "1234",
        lifetime: 300,
        message: "m",
      });
      ids.push((answer.body.content as { id: string }).id);
    }
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).toEqual(ids);
    expect((await api.call("GET", `/otp/${ids[0]}`)).body.status).toBe(true);
  });
});
