import { useTestBroker } from "@otp/broker/testing";
import { createSql, createTables, type RetentionWindowsRow } from "@otp/db";
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

/** Deletes the rows `seed(marker, …)` wrote, with their policy records. */
async function drop(marker: string): Promise<void> {
  await api.pool.query(
    `WITH o AS (DELETE FROM otp WHERE target LIKE $1 || '-%' RETURNING id)
     DELETE FROM otp_policy r USING o WHERE r.otp_id = o.id`,
    [marker],
  );
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

  it("shows how long ago the code it deletes next expired, whatever other codes' lifetimes", async () => {
    // The young rows expired 23 h before the clock; and a code with a lifetime of ten days, created
    // eleven days ago, expired 23.5 h ago: the oldest row, the earliest to expire, deleted on time.
    const now = api.clock.now().getTime();
    await api.pool.query(
      `INSERT INTO otp (id, channel, target, password_digest, password_cipher, created_at, expire_at)
       VALUES (gen_random_uuid(), 'sms', 'lifer-1', sha256('lifer'::bytea), '\\x00'::bytea, $1, $2)`,
      [new Date(now - 11 * DAY), new Date(now - DAY + 30 * 60_000)],
    );
    try {
      const expired = await metric("otp_oldest_expiry_age_seconds");
      expect(expired).toBeGreaterThan(23 * 3600 + 29 * 60);
      expect(expired).toBeLessThan(23 * 3600 + 31 * 60 + 60);
      // The deprecated gauge: the creation age of that same row (the earliest to expire).
      const created = await metric("otp_oldest_row_age_seconds");
      expect(created).toBeGreaterThan(11 * 86_400 - 60);
      expect(created).toBeLessThan(11 * 86_400 + 120);
      const help = await (await api.app.request("/metrics")).text();
      expect(help).toContain("# HELP otp_oldest_expiry_age_seconds Seconds since the earliest expire_at");
    } finally {
      await api.pool.query("DELETE FROM otp WHERE target = 'lifer-1'");
    }
  });

  it("keeps what a limit rule longer than the retention still counts: its window stays full", async () => {
    await api.call("POST", "/limit/call", { phones: [{ minutes: 3 * 24 * 60, rate: 2 }] });
    const phone = freshPhone();
    const call = () => api.call("POST", "/call", { phone, password: "5151", lifetime: 600 });
    // The codes are moved back in time rather than the clock forward: a pass on a clock days away
    // from the database's deletes nothing.
    const age = (ms: number) =>
      api.pool.query(
        `UPDATE otp SET created_at = created_at - $2::float8 * interval '1 millisecond',
           expire_at = expire_at - $2::float8 * interval '1 millisecond' WHERE target = $1`,
        [phone, ms],
      );
    expect((await call()).body.status).toBe(true);
    expect((await call()).body.status).toBe(true);
    await age(2 * DAY);
    await api.retention.pass();
    expect((await call()).body).toMatchObject({ status: false, status_code: "phone_limit" });
    // Once the rule's three days have passed, the rows go and the phone may receive codes again.
    await age(1.5 * DAY);
    await api.retention.pass();
    const left = await api.pool.query("SELECT 1 FROM otp WHERE target = $1", [phone]);
    expect(left.rowCount).toBe(0);
    expect((await call()).body.status).toBe(true);
    await api.call("POST", "/limit/call", { phones: [] });
  });

  /** An SMS policy in monitor mode whose conversion guard looks back an hour and suspends for an hour at most. */
  const monitorGuardOfAnHour = async () => {
    const guard = { prefix_digits: 6, window_minutes: 60, min_sent: 20, min_conversion: 0.2, lag_seconds: 0 };
    const set = await api.call("POST", "/policy/sms", {
      mode: "monitor",
      conversion_guard: { ...guard, block_minutes: 60, max_block_minutes: 60 },
    });
    expect(set.status).toBe(200);
  };

  it("keeps the evidence of a running streak of guard suspensions, whatever max_block_minutes says now", async () => {
    // A suspension set three days ago under a long max_block_minutes, still running; the policy now
    // says 60 minutes, whose reach (window + 2 × max block) alone is three hours.
    await monitorGuardOfAnHour();
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

  it("reads the guard's streaks as one start, however many prefixes were ever suspended", async () => {
    await monitorGuardOfAnHour();
    const now = api.clock.now().getTime();
    const lastingSince = new Date(now - 2 * DAY);
    // 3,000 streaks long over (their suspensions ended three days ago), and one still lasting.
    await api.pool.query(
      `INSERT INTO policy_block (channel, prefix, rule, sent, verified, since, until, strikes)
       SELECT 'sms', (880000 + g)::text, 'conversion_guard', 40, 0, $1::timestamptz, $2::timestamptz, 2
       FROM generate_series(1, 3000) g
       UNION ALL SELECT 'sms', '779999', 'conversion_guard', 40, 0, $3::timestamptz, $4::timestamptz, 3`,
      [new Date(now - 4 * DAY), new Date(now - 3 * DAY), lastingSince, new Date(now + HOUR)],
    );
    try {
      const sql = createSql(createTables(api.config.pg.schema));
      const { rows } = await api.pool.query<RetentionWindowsRow>(sql.retention.windows({ now: api.clock.now() }));
      expect(JSON.stringify(rows[0]).length).toBeLessThan(1_000);
      expect(rows[0]?.streak_since).toEqual(lastingSince);
      // The lasting streak keeps the guard's window before it began; the long-over ones keep nothing.
      await seed("lasting-in", 10, 2 * DAY - HOUR);
      await seed("lasting-out", 10, 2 * DAY + 2 * HOUR);
      await api.retention.pass();
      expect((await rowsOf("lasting-in")).otp).toBe(10);
      expect((await rowsOf("lasting-out")).otp).toBe(0);
    } finally {
      await api.pool.query("DELETE FROM policy_block WHERE prefix = '779999' OR prefix LIKE '88%'");
      await api.pool.query("DELETE FROM policy WHERE channel = 'sms'");
      await drop("lasting-in");
    }
  });

  it("skips a pass, counted and logged, while the process clock is more than a minute ahead of the database's", async () => {
    // Kept by the database's clock (inside the statistics' day); a clock two days ahead would
    // delete them, and every replica's windows would lose them.
    await seed("skew", 20, 23 * HOUR);
    const logged = api.logs.length;
    const passAt = async (offsetMs: number) => {
      api.clock.advance(offsetMs);
      try {
        return await api.retention.pass();
      } finally {
        api.clock.advance(-offsetMs);
      }
    };
    const skipped = { otp: 0, otpPolicy: 0, batches: 0, skipped: "clock_skew" };
    expect(await passAt(2 * DAY)).toEqual(skipped);
    expect(await passAt(3 * 60_000)).toEqual(skipped);
    // Behind, a pass runs: it cuts from its own, earlier clock, so it deletes no more than it should.
    expect((await passAt(-2 * DAY)).skipped).toBe(false);
    expect((await rowsOf("skew")).otp).toBe(20);
    expect(await metric("otp_retention_skipped_total", { reason: "clock_skew" })).toBe(2);
    const warnings = api.logs.slice(logged).filter((line) => line.includes("retention pass skipped"));
    expect(warnings).toHaveLength(2);
    expect(warnings.join("\n")).not.toContain("skew-");
    const warning = JSON.parse(warnings[0] ?? "{}");
    expect(warning).toMatchObject({ level: 40, limitSeconds: 60 });
    expect(Math.abs(warning.clockAheadSeconds - 2 * 86_400)).toBeLessThan(5);
    // Within the limit the pass runs, cutting from the earlier of the two clocks and a minute further
    // back: a code that expired a day and 30 s ago (by the database's clock) stays, one a day and
    // three minutes ago goes.
    await seed("edge-in", 5, DAY + 30_000);
    await seed("edge-out", 5, DAY + 3 * 60_000);
    expect((await passAt(50_000)).skipped).toBe(false);
    expect((await rowsOf("skew")).otp).toBe(20);
    expect((await rowsOf("edge-in")).otp).toBe(5);
    expect((await rowsOf("edge-out")).otp).toBe(0);
    await drop("skew");
    await drop("edge-in");
  });

  it("leaves a row another transaction holds locked for a later pass, without waiting for it", async () => {
    await seed("held", 30, 2 * DAY);
    const holder = await api.pool.connect();
    let pass: Promise<unknown> | undefined;
    try {
      await holder.query("BEGIN");
      // As the dispatcher's status write holds it.
      await holder.query("SELECT 1 FROM otp WHERE target = 'held-1' FOR UPDATE");
      pass = api.retention.pass();
      const timeout = new Promise((resolve) => setTimeout(() => resolve("still waiting"), 5_000).unref());
      expect(await Promise.race([pass, timeout])).toMatchObject({ skipped: false });
      expect(await rowsOf("held")).toEqual({ otp: 1, otpPolicy: 0 });
    } finally {
      await holder.query("ROLLBACK");
      holder.release();
      await pass;
    }
    await api.retention.pass();
    expect((await rowsOf("held")).otp).toBe(0);
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
