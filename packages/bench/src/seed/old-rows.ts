import type pg from "pg";

/**
 * Old OTP rows in bulk, as months of traffic leave them (docs/performance.md, "Old rows"): one
 * `INSERT … SELECT generate_series` per chunk, every row shaped as the API writes it — 70 % sms,
 * 10 % call, 15 % email, 5 % telegram; about two codes per target; created over the past 7 days
 * (less an hour, so that a retention of 7 days removes nothing during the run); expired five
 * minutes after their creation, delivered, 60 % verified, the expiry event already emitted (so
 * that no lifecycle pass has work to do on them). Each code has a digest of its own, as real codes
 * do (so the digest index is as large); the cipher is a placeholder of the real length (nothing in
 * the benchmark decrypts an old row).
 */

export interface OldRowsSpec {
  readonly count: number;
  /** Rows per statement. */
  readonly chunk?: number;
}

/** The statement for rows `from` … `to` (1-based, inclusive): $1 cipher, $2 from, $3 to, $4 the total
 * (targets are drawn from half as many as there are rows). */
export const OLD_ROWS_SQL = `
INSERT INTO otp (id, channel, target, ip, password_digest, password_cipher, generated, created_at, expire_at,
  failed_checks, verified_at, delivery_status, delivery_attempts, delivered_at, country, expiry_emitted)
SELECT gen_random_uuid(), s.channel,
  CASE s.channel
    WHEN 'email' THEN 'user' || s.who || '@example.com'
    WHEN 'telegram' THEN (100000000 + s.who)::text
    ELSE '7701' || lpad(s.who::text, 7, '0') END,
  CASE WHEN s.g % 3 = 0 THEN '10.' || (s.g % 250) || '.' || (s.g / 250 % 250) || '.' || (s.g / 62500 % 250) END,
  sha256(('old-' || s.g)::bytea), $1::bytea, s.g % 10 = 0, s.created, s.created + interval '5 minutes',
  CASE WHEN s.g % 10 = 1 THEN 1 ELSE 0 END,
  CASE WHEN s.g % 5 < 3 THEN s.created + interval '40 seconds' END,
  'delivered', 1, s.created + interval '2 seconds',
  CASE WHEN s.channel IN ('sms', 'call') THEN 'KZ' END, true
FROM (
  SELECT g,
    CASE WHEN g % 20 < 14 THEN 'sms' WHEN g % 20 < 16 THEN 'call' WHEN g % 20 < 19 THEN 'email' ELSE 'telegram' END AS channel,
    (g * 7919) % greatest($4::bigint / 2, 1) AS who,
    now() - interval '1 hour' - random() * interval '167 hours' AS created
  FROM generate_series($2::bigint, $3::bigint) AS g
) s`;

/**
 * Seeds `spec.count` old rows; resolves with the seconds it took. The indexes (primary key
 * included) are dropped first and built again after the inserts, in one sort each, as a restore
 * would build them: ten times faster than inserting into them here, and they come out compact,
 * where a table grown row by row has half-full pages (docs/performance.md, "Old rows").
 */
export async function seedOldRows(pool: pg.Pool, spec: OldRowsSpec, log: (m: string) => void): Promise<number> {
  const started = performance.now();
  const client = await pool.connect();
  try {
    // Each index sorted in memory rather than in temporary files.
    await client.query("SET maintenance_work_mem = '1GB'");
    await seedWithoutIndexes(client, spec, log);
  } finally {
    client.release();
  }
  return (performance.now() - started) / 1000;
}

async function seedWithoutIndexes(pool: pg.PoolClient, spec: OldRowsSpec, log: (m: string) => void): Promise<void> {
  const chunk = spec.chunk ?? 1_000_000;
  const cipher = Buffer.alloc(34, 7);
  const { rows: indexes } = await pool.query<{ name: string; def: string; pkey: boolean }>(
    `SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def, i.indisprimary AS pkey
     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'otp'::regclass`,
  );
  for (const index of indexes) {
    await pool.query(index.pkey ? `ALTER TABLE otp DROP CONSTRAINT "${index.name}"` : `DROP INDEX "${index.name}"`);
  }
  for (let from = 1; from <= spec.count; from += chunk) {
    const to = Math.min(spec.count, from + chunk - 1);
    await pool.query(OLD_ROWS_SQL, [cipher, from, to, spec.count]);
    log(`  ${to.toLocaleString("en-US")} old rows`);
  }
  for (const index of indexes) {
    await pool.query(index.pkey ? `ALTER TABLE otp ADD CONSTRAINT "${index.name}" PRIMARY KEY (id)` : index.def);
  }
  await pool.query("VACUUM ANALYZE otp");
  // The seed's WAL flushed to the data files now, not by a checkpoint during the first measured run
  // (a checkpoint is server-wide: the runs after it pay alike for the first writes to each page).
  await pool
    .query("CHECKPOINT")
    .catch(() => log("  CHECKPOINT refused (not a superuser): the next runs may pay for it"));
}
