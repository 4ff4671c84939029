import type pg from "pg";

/**
 * Live codes for the checks to find (docs/performance.md, "How it is measured"), inserted in one statement as
 * the creates would have left them: an SMS code `12345` for each phone `base + 1` … `base + count`,
 * created a minute ago, valid for an hour, delivered. In this service's `otp` (the digest the API
 * computes for 12345, a cipher placeholder of the real length) and, when asked, in the peer's
 * table (plaintext, as the peer keeps it).
 */
export interface LiveCodes {
  readonly base: number;
  readonly count: number;
  /** Whether a right check has already been recorded (`verified_at`): a later right check writes nothing. */
  readonly verified: boolean;
}

export async function seedLiveCodes(pool: pg.Pool, digest: Buffer, codes: LiveCodes): Promise<void> {
  await pool.query(
    `INSERT INTO otp (id, channel, target, password_digest, password_cipher, created_at, expire_at, verified_at,
       delivery_status, delivery_attempts, delivered_at, country)
     SELECT gen_random_uuid(), 'sms', ($2::bigint + g)::text, $1::bytea, $3::bytea, now() - interval '1 minute',
       now() + interval '1 hour', CASE WHEN $5 THEN now() - interval '30 seconds' END, 'delivered', 1,
       now() - interval '58 seconds', 'KZ'
     FROM generate_series(1, $4::bigint) AS g`,
    [digest, codes.base, Buffer.alloc(34, 7), codes.count, codes.verified],
  );
  await pool.query("ANALYZE otp");
}

export async function seedPeerCodes(pool: pg.Pool, codes: Pick<LiveCodes, "base" | "count">): Promise<void> {
  await pool.query(
    `INSERT INTO peer_otp (channel, target, code, message, created_at, expire_at)
     SELECT 'sms', ($1::bigint + g)::text, '12345', 'Your OTP is 12345', now() - interval '1 minute', now() + interval '1 hour'
     FROM generate_series(1, $2::bigint) AS g`,
    [codes.base, codes.count],
  );
  await pool.query("ANALYZE peer_otp");
}
