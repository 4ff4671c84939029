ALTER TABLE "otp" ADD COLUMN "verified_at" timestamp with time zone;--> statement-breakpoint
-- otp_check as in 0002, plus: a right check records the code's first verification (verified_at).
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
    -- The first right check of a code is its verification: conversion figures count it.
    UPDATE otp o SET verified_at = p_now WHERE o.id = matched AND o.verified_at IS NULL;
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
