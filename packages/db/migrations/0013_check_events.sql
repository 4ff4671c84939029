-- otp_check as in 0008 (docs/lifecycle.md, "Events"), with two events put right:
-- - a wrong check by id of a code that is no longer live is still counted against the target's live
--   codes (a guess is a guess), so it now emits its `otp.check_failed` for the target's newest live
--   code, as a check by target does: before, it emitted none, and a fifth such guess could send
--   `otp.max_attempts_reached` with no `otp.check_failed` before it;
-- - an approved code (verified, OTP_SINGLE_USE=false) is not reported dead: wrong checks after its
--   verification still count against it, but `otp.max_attempts_reached` is for codes that were
--   never verified, since an approved code stays approved.
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
  p_memory interval,
  p_only uuid
) RETURNS TABLE (outcome text, retry_after_ms bigint, attempts_left integer, verified_seconds double precision)
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
  newest uuid;
  only_found boolean;
  only_live boolean;
  horizon timestamptz;
  for_target boolean;
  first_seconds double precision;
  matched_test boolean;
  closed uuid[];
  killed uuid[];
BEGIN
  PERFORM otp_lock_target(p_channel, p_target);

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

  SELECT count(*)::integer,
         count(*) FILTER (WHERE x.live)::integer,
         array_agg(x.id) FILTER (WHERE x.live),
         max(x.expire_at),
         (array_agg(x.id ORDER BY x.created_at DESC)
           FILTER (WHERE x.live AND refused_until IS NULL AND sha256(x.password_digest || p_nonce) = p_blinded
             AND (p_only IS NULL OR x.id = p_only)))[1],
         (array_agg(x.id ORDER BY x.created_at DESC) FILTER (WHERE x.live))[1],
         coalesce(bool_or(x.id = p_only), false),
         coalesce(bool_or(x.id = p_only AND x.live), false)
  INTO n_candidates, n_live, live_ids, last_expiry, matched, newest, only_found, only_live
  FROM (
    SELECT o.id, o.created_at, o.expire_at, o.password_digest,
           (p_max_failures = 0 OR o.failed_checks < p_max_failures) AS live
    FROM otp o
    WHERE o.channel = p_channel AND o.target = p_target AND o.expire_at > p_now AND o.closed_at IS NULL
    ORDER BY o.created_at DESC
    LIMIT 100
  ) x;

  IF (p_only IS NULL AND n_candidates > 0 AND n_live = 0) OR (only_found AND NOT only_live) THEN
    RETURN QUERY SELECT 'attempts_exceeded'::text, NULL::bigint, otp_attempts_left(p_only, p_max_failures), NULL::float8;
    RETURN;
  END IF;
  IF refused_until IS NOT NULL THEN
    RETURN QUERY SELECT 'check_throttled'::text, ceil(extract(epoch FROM refused_until - p_now) * 1000)::bigint,
      otp_attempts_left(p_only, p_max_failures), NULL::float8;
    RETURN;
  END IF;

  IF matched IS NOT NULL THEN
    UPDATE otp o SET verified_at = p_now WHERE o.id = matched AND o.verified_at IS NULL
    RETURNING extract(epoch FROM p_now - o.created_at)::float8, o.test INTO first_seconds, matched_test;
    IF p_single_use THEN
      WITH c AS (
        UPDATE otp o SET closed_at = p_now,
          closed_reason = CASE WHEN o.id = matched THEN 'consumed' ELSE 'sibling_consumed' END
        WHERE o.channel = p_channel AND o.target = p_target AND o.expire_at > p_now AND o.closed_at IS NULL
          AND (p_max_failures = 0 OR o.failed_checks < p_max_failures)
        RETURNING o.id, o.verified_at
      )
      SELECT array_agg(c.id) FILTER (WHERE c.verified_at IS NULL) INTO closed FROM c;
    END IF;
    IF t_found OR i_found THEN
      DELETE FROM check_budget b
      WHERE b.channel = p_channel AND b.target = p_target AND b.ip IN ('', coalesce(p_ip, ''));
    END IF;
    IF first_seconds IS NOT NULL THEN
      PERFORM otp_emit_for('otp.verified', matched, p_now, p_max_failures);
    END IF;
    IF closed IS NOT NULL THEN
      PERFORM otp_emit_for('otp.canceled', c.id, p_now, p_max_failures) FROM unnest(closed) AS c(id);
    END IF;
    -- A test target's code (docs/test-targets.md) is not counted in the verification metrics.
    RETURN QUERY SELECT 'match'::text, NULL::bigint, otp_attempts_left(p_only, p_max_failures),
      CASE WHEN matched_test THEN NULL ELSE first_seconds END;
    RETURN;
  END IF;

  -- A wrong check, counted as in 0005.
  WITH u AS (
    UPDATE otp o SET failed_checks = o.failed_checks + 1 WHERE o.id = ANY(live_ids)
    RETURNING o.id, o.failed_checks, o.verified_at
  )
  SELECT array_agg(u.id) FILTER (WHERE p_max_failures > 0 AND u.failed_checks = p_max_failures AND u.verified_at IS NULL)
  INTO killed FROM u;
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
  -- One `otp.check_failed` per wrong check: for the checked OTP (by id), else the target's newest live code.
  -- Called with no OTP too (an unknown target): a wrong check takes as long either way.
  PERFORM otp_emit_for('otp.check_failed',
    CASE WHEN p_only IS NOT NULL AND only_live THEN p_only ELSE newest END, p_now, p_max_failures);
  IF killed IS NOT NULL THEN
    PERFORM otp_emit_for('otp.max_attempts_reached', k.id, p_now, p_max_failures) FROM unnest(killed) AS k(id);
  END IF;
  RETURN QUERY SELECT 'mismatch'::text, NULL::bigint, otp_attempts_left(p_only, p_max_failures), NULL::float8;
END;
$$;
