-- Guessing is bounded across codes and lookups (docs/security.md, "Guessing"). The check and the
-- create are functions so that each takes its advisory lock and then reads with a snapshot taken
-- after the lock (every statement of a VOLATILE PL/pgSQL function gets a fresh one under READ
-- COMMITTED), in one round trip. They are created in the migration's schema (PG_SCHEMA) and keep
-- it as their search_path, so that their unqualified table names are that schema's whatever the
-- caller's search_path; callers name them schema-qualified. Durations come as parameters, from
-- the constants in packages/contracts/src/guessing.ts.

-- Codes consumed under OTP_SINGLE_USE were marked by used_at alone (0003 drops it).
UPDATE "otp" SET "closed_at" = "used_at", "closed_reason" = 'consumed' WHERE "used_at" IS NOT NULL;
--> statement-breakpoint

-- The lock that serialises everything that reads or changes one target's live codes and counters:
-- its checks, and the creates that close older codes (supersede, reuse).
CREATE OR REPLACE FUNCTION otp_lock_target(p_channel text, p_target text) RETURNS void
LANGUAGE sql
SET search_path FROM CURRENT
AS $$
  SELECT pg_advisory_xact_lock(hashtextextended(format('otp:%s:check:%s:%s', current_schema(), p_channel, p_target), 0));
$$;
--> statement-breakpoint

-- A check. Outcomes: 'match', 'mismatch', 'attempts_exceeded' (candidates exist, every one dead of
-- its failures: nothing compared), 'check_throttled' (the target's or the address's delay is
-- running: nothing compared; retry_after_ms says how long). The work of a wrong check is the same
-- whether the target has a code or not: both write the target's counter, so both commit with a
-- WAL flush, and timing does not tell them apart.
CREATE OR REPLACE FUNCTION otp_check(
  p_channel text,
  p_target text,
  p_ip text,
  p_now timestamptz,
  p_nonce bytea,
  p_blinded bytea,
  p_max_failures integer,
  p_single_use boolean,
  p_throttle_after integer,
  p_ip_share integer,
  p_first_delay interval,
  p_max_delay interval,
  p_memory interval
) RETURNS TABLE (outcome text, retry_after_ms bigint)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
  t_found boolean;
  t_failures integer;
  t_delays integer;
  t_blocked timestamptz;
  i_found boolean := false;
  i_failures integer := 0;
  i_delays integer := 0;
  i_blocked timestamptz;
  refused_until timestamptz;
  n_candidates integer;
  n_live integer;
  live_ids uuid[];
  last_expiry timestamptz;
  matched uuid;
  horizon timestamptz;
  for_target boolean;
BEGIN
  PERFORM otp_lock_target(p_channel, p_target);

  -- The counters, unless forgotten (expire_at passed: the sweeper deletes such rows later).
  SELECT b.failures, b.delays, b.blocked_until INTO t_failures, t_delays, t_blocked
  FROM check_budget b WHERE b.channel = p_channel AND b.target = p_target AND b.ip = '' AND b.expire_at > p_now;
  t_found := FOUND;
  IF NOT t_found THEN t_failures := 0; t_delays := 0; t_blocked := NULL; END IF;
  IF p_ip IS NOT NULL THEN
    SELECT b.failures, b.delays, b.blocked_until INTO i_failures, i_delays, i_blocked
    FROM check_budget b WHERE b.channel = p_channel AND b.target = p_target AND b.ip = p_ip AND b.expire_at > p_now;
    i_found := FOUND;
    IF NOT i_found THEN i_failures := 0; i_delays := 0; i_blocked := NULL; END IF;
  END IF;
  IF p_throttle_after > 0 THEN
    refused_until := greatest(t_blocked, i_blocked);
    IF refused_until <= p_now THEN refused_until := NULL; END IF;
  END IF;

  -- The candidates: unexpired, not closed; live when below the failure limit. The guess is
  -- compared (blinded: sha256(stored digest || nonce) against sha256(guess digest || nonce)) only
  -- when the check is not refused, and with every live candidate.
  SELECT count(*)::integer,
         count(*) FILTER (WHERE x.live)::integer,
         array_agg(x.id) FILTER (WHERE x.live),
         max(x.expire_at),
         (array_agg(x.id ORDER BY x.created_at DESC)
           FILTER (WHERE x.live AND refused_until IS NULL AND sha256(x.password_digest || p_nonce) = p_blinded))[1]
  INTO n_candidates, n_live, live_ids, last_expiry, matched
  FROM (
    SELECT o.id, o.created_at, o.expire_at, o.password_digest,
           (p_max_failures = 0 OR o.failed_checks < p_max_failures) AS live
    FROM otp o
    WHERE o.channel = p_channel AND o.target = p_target AND o.expire_at > p_now AND o.closed_at IS NULL
    ORDER BY o.created_at DESC
    LIMIT 100
  ) x;

  IF n_candidates > 0 AND n_live = 0 THEN
    RETURN QUERY SELECT 'attempts_exceeded'::text, NULL::bigint;
    RETURN;
  END IF;
  IF refused_until IS NOT NULL THEN
    RETURN QUERY SELECT 'check_throttled'::text, ceil(extract(epoch FROM refused_until - p_now) * 1000)::bigint;
    RETURN;
  END IF;

  IF matched IS NOT NULL THEN
    -- Single use: the match is consumed, and every other live code of the target with it.
    IF p_single_use THEN
      UPDATE otp o SET closed_at = p_now,
        closed_reason = CASE WHEN o.id = matched THEN 'consumed' ELSE 'sibling_consumed' END
      WHERE o.channel = p_channel AND o.target = p_target AND o.expire_at > p_now AND o.closed_at IS NULL
        AND (p_max_failures = 0 OR o.failed_checks < p_max_failures);
    END IF;
    -- A right check resets the target's count and the address's.
    IF t_found OR i_found THEN
      DELETE FROM check_budget b
      WHERE b.channel = p_channel AND b.target = p_target AND b.ip IN ('', coalesce(p_ip, ''));
    END IF;
    RETURN QUERY SELECT 'match'::text, NULL::bigint;
    RETURN;
  END IF;

  -- A wrong check: one more failure for every live code, and for the counters. An address counts
  -- toward its target only with its first p_throttle_after consecutive failures, so that one
  -- address alone cannot make the target's (looser, p_ip_share times larger) budget run out.
  UPDATE otp o SET failed_checks = o.failed_checks + 1 WHERE o.id = ANY(live_ids);
  horizon := greatest(p_now, last_expiry) + p_memory;
  for_target := p_ip IS NULL OR p_throttle_after = 0 OR i_failures < p_throttle_after;
  IF for_target THEN
    t_failures := t_failures + 1;
    IF p_throttle_after > 0
       AND t_failures >= p_throttle_after * (CASE WHEN p_ip IS NULL THEN 1 ELSE p_ip_share END) THEN
      t_blocked := p_now + least(p_first_delay * power(2, least(t_delays, 20)), p_max_delay);
      t_delays := t_delays + 1;
    END IF;
    INSERT INTO check_budget AS b (channel, target, ip, failures, delays, blocked_until, expire_at)
    VALUES (p_channel, p_target, '', t_failures, t_delays, t_blocked, greatest(horizon, t_blocked + p_memory))
    ON CONFLICT (channel, target, ip) DO UPDATE SET failures = excluded.failures, delays = excluded.delays,
      blocked_until = excluded.blocked_until, expire_at = greatest(b.expire_at, excluded.expire_at);
  END IF;
  IF p_ip IS NOT NULL THEN
    i_failures := i_failures + 1;
    IF p_throttle_after > 0 AND i_failures >= p_throttle_after THEN
      i_blocked := p_now + least(p_first_delay * power(2, least(i_delays, 20)), p_max_delay);
      i_delays := i_delays + 1;
    END IF;
    INSERT INTO check_budget AS b (channel, target, ip, failures, delays, blocked_until, expire_at)
    VALUES (p_channel, p_target, p_ip, i_failures, i_delays, i_blocked, greatest(horizon, i_blocked + p_memory))
    ON CONFLICT (channel, target, ip) DO UPDATE SET failures = excluded.failures, delays = excluded.delays,
      blocked_until = excluded.blocked_until, expire_at = greatest(b.expire_at, excluded.expire_at);
  END IF;
  RETURN QUERY SELECT 'mismatch'::text, NULL::bigint;
END;
$$;
--> statement-breakpoint

-- A create: the OTP row and its outbox event. Answers 'inserted'; 'has_rules' when p_guarded and
-- the channel has limit rules (the caller then takes the limits' path); 'duplicate' when
-- p_unique and a live code of the channel has the same digest (the caller draws another code).
-- The uniqueness test holds a lock per channel and digest, so two creates cannot both find the
-- code free. p_supersede closes the target's older live codes of the channel. Counters of the
-- target are kept for as long as its new code lives (plus p_memory).
CREATE OR REPLACE FUNCTION otp_issue(
  p_id uuid,
  p_channel text,
  p_target text,
  p_ip text,
  p_digest bytea,
  p_cipher bytea,
  p_generated boolean,
  p_created_at timestamptz,
  p_expire_at timestamptz,
  p_event_id uuid,
  p_event jsonb,
  p_guarded boolean,
  p_unique boolean,
  p_supersede boolean,
  p_max_failures integer,
  p_memory interval
) RETURNS text
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
  IF p_guarded AND EXISTS (SELECT 1 FROM limit_rule r WHERE r.channel = p_channel) THEN
    RETURN 'has_rules';
  END IF;
  IF p_unique THEN
    PERFORM pg_advisory_xact_lock(
      hashtextextended(format('otp:%s:code:%s:%s', current_schema(), p_channel, encode(p_digest, 'hex')), 0));
    IF EXISTS (
      SELECT 1 FROM otp o
      WHERE o.channel = p_channel AND o.password_digest = p_digest AND o.expire_at > p_created_at
        AND o.closed_at IS NULL AND (p_max_failures = 0 OR o.failed_checks < p_max_failures)
    ) THEN
      RETURN 'duplicate';
    END IF;
  END IF;
  IF p_supersede THEN
    PERFORM otp_lock_target(p_channel, p_target);
    UPDATE otp o SET closed_at = p_created_at, closed_reason = 'superseded'
    WHERE o.channel = p_channel AND o.target = p_target AND o.expire_at > p_created_at AND o.closed_at IS NULL
      AND (p_max_failures = 0 OR o.failed_checks < p_max_failures);
  END IF;
  INSERT INTO otp (id, channel, target, ip, password_digest, password_cipher, generated, created_at, expire_at)
  VALUES (p_id, p_channel, p_target, p_ip, p_digest, p_cipher, p_generated, p_created_at, p_expire_at);
  INSERT INTO outbox (id, otp_id, channel, event, created_at)
  VALUES (p_event_id, p_id, p_channel, p_event, p_created_at);
  UPDATE check_budget b SET expire_at = p_expire_at + p_memory
  WHERE b.channel = p_channel AND b.target = p_target AND b.expire_at > p_created_at
    AND b.expire_at < p_expire_at + p_memory;
  RETURN 'inserted';
END;
$$;
--> statement-breakpoint

-- OTP_RESEND=reuse: the target's newest live code of the channel, if it has more than p_min_left
-- to live, under the target's lock (held until the caller's transaction ends, which inserts its
-- copy and closes it).
CREATE OR REPLACE FUNCTION otp_reusable(
  p_channel text,
  p_target text,
  p_now timestamptz,
  p_min_left interval,
  p_max_failures integer
) RETURNS TABLE (reused_id uuid, reused_cipher bytea, reused_generated boolean, reused_expire_at timestamptz)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
  PERFORM otp_lock_target(p_channel, p_target);
  RETURN QUERY
  SELECT n.id, n.password_cipher, n.generated, n.expire_at
  FROM (
    SELECT o.id, o.password_cipher, o.generated, o.expire_at FROM otp o
    WHERE o.channel = p_channel AND o.target = p_target AND o.expire_at > p_now AND o.closed_at IS NULL
      AND (p_max_failures = 0 OR o.failed_checks < p_max_failures)
    ORDER BY o.created_at DESC
    LIMIT 1
  ) n
  WHERE n.expire_at > p_now + p_min_left;
END;
$$;
--> statement-breakpoint

-- The misses of each key since p_since, oldest first, read after taking each key's lock (in the
-- order given) for the rest of the caller's transaction, which looks up and records its miss.
CREATE OR REPLACE FUNCTION otp_lookup_misses(p_keys text[], p_since timestamptz)
RETURNS TABLE (miss_key text, misses timestamptz[])
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
  k text;
BEGIN
  FOREACH k IN ARRAY p_keys LOOP
    PERFORM pg_advisory_xact_lock(hashtextextended(format('otp:%s:lookup:%s', current_schema(), k), 0));
  END LOOP;
  RETURN QUERY
  SELECT u.k, coalesce(
    (SELECT array_agg(m.at ORDER BY m.at) FROM lookup_miss m WHERE m.key = u.k AND m.at > p_since),
    '{}'::timestamptz[])
  FROM unnest(p_keys) WITH ORDINALITY AS u(k, n)
  ORDER BY u.n;
END;
$$;
