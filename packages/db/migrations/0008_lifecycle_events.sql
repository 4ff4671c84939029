-- The verification lifecycle's events (docs/lifecycle.md, "Events"), each written by the statement
-- that makes the state change it reports, so that it commits with it. The create and the check get
-- new overloads (metadata and country; the check by id); the overloads of 0002 and 0005 stay, so
-- that an API of the previous version still runs against this schema during a rolling upgrade (it
-- emits no events).

-- Whether a webhook subscription wants events of this type: otp_emit's own filter, alone. A state
-- change nobody subscribed to costs this probe of the (tiny) webhook table, not the event's data.
CREATE OR REPLACE FUNCTION otp_wants(p_type text) RETURNS boolean
LANGUAGE sql STABLE
SET search_path FROM CURRENT
AS $$
  SELECT EXISTS (SELECT 1 FROM webhook w WHERE p_type = ANY(w.events) OR 'otp.*' = ANY(w.events) OR '*' = ANY(w.events))
$$;
--> statement-breakpoint

-- otp_emit as in 0007, with one message id per subscription: 0007 drew it in an uncorrelated
-- LATERAL subquery, which PostgreSQL evaluates once, so a second subscription's row collided with
-- the first (outbox_pkey) and failed the state change. A volatile call in the select list is drawn
-- per row.
CREATE OR REPLACE FUNCTION otp_emit(p_type text, p_otp_id uuid, p_at timestamptz, p_data jsonb) RETURNS integer
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
  n integer;
BEGIN
  INSERT INTO outbox (id, otp_id, channel, event, created_at)
  SELECT m.id, p_otp_id, 'webhook',
    jsonb_build_object('v', 1, 'id', 'msg_' || m.id::text, 'subscription_id', m.subscription_id, 'otp_id', p_otp_id,
      'type', p_type,
      'payload', jsonb_build_object('type', p_type,
        'timestamp', to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'data', p_data)),
    p_at
  FROM (
    SELECT gen_random_uuid() AS id, w.id AS subscription_id FROM webhook w
    WHERE p_type = ANY(w.events) OR 'otp.*' = ANY(w.events) OR '*' = ANY(w.events)
  ) m;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END;
$$;
--> statement-breakpoint

-- An event about one OTP, its data as otp_event_data shows the OTP at p_at, when a subscription
-- wants it. Returns the outbox rows written.
CREATE OR REPLACE FUNCTION otp_emit_for(p_type text, p_otp_id uuid, p_at timestamptz, p_max_failures integer)
RETURNS integer
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
  -- The subscriptions are read first, and also for no OTP (p_otp_id null): a wrong check asks
  -- whether or not its target has a code, so that the two take as long (docs/security.md, "Guessing").
  IF NOT otp_wants(p_type) THEN
    RETURN 0;
  END IF;
  IF p_otp_id IS NULL THEN
    RETURN 0;
  END IF;
  RETURN otp_emit(p_type, p_otp_id, p_at, otp_event_data(p_otp_id, p_at, p_max_failures));
END;
$$;
--> statement-breakpoint

-- otp_issue as in 0002, plus the OTP's metadata and country, `otp.created`, and `otp.canceled`
-- (reason `superseded`) for each unverified code it closes.
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
  p_memory interval,
  p_metadata jsonb,
  p_country text
) RETURNS text
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
  superseded uuid[];
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
    WITH s AS (
      UPDATE otp o SET closed_at = p_created_at, closed_reason = 'superseded'
      WHERE o.channel = p_channel AND o.target = p_target AND o.expire_at > p_created_at AND o.closed_at IS NULL
        AND (p_max_failures = 0 OR o.failed_checks < p_max_failures)
      RETURNING o.id, o.verified_at
    )
    SELECT array_agg(s.id) FILTER (WHERE s.verified_at IS NULL) INTO superseded FROM s;
  END IF;
  INSERT INTO otp (id, channel, target, ip, password_digest, password_cipher, generated, created_at, expire_at,
    metadata, country)
  VALUES (p_id, p_channel, p_target, p_ip, p_digest, p_cipher, p_generated, p_created_at, p_expire_at,
    p_metadata, p_country);
  INSERT INTO outbox (id, otp_id, channel, event, created_at)
  VALUES (p_event_id, p_id, p_channel, p_event, p_created_at);
  UPDATE check_budget b SET expire_at = p_expire_at + p_memory
  WHERE b.channel = p_channel AND b.target = p_target AND b.expire_at > p_created_at
    AND b.expire_at < p_expire_at + p_memory;
  IF superseded IS NOT NULL THEN
    PERFORM otp_emit_for('otp.canceled', s.id, p_created_at, p_max_failures) FROM unnest(superseded) AS s(id);
  END IF;
  PERFORM otp_emit_for('otp.created', p_id, p_created_at, p_max_failures);
  RETURN 'inserted';
END;
$$;
--> statement-breakpoint

-- otp_check as in 0005, plus the events of a check (`otp.verified` at a code's first right check,
-- `otp.canceled` for the unverified codes a single-use match closes, `otp.check_failed` for the
-- target's newest live code, `otp.max_attempts_reached` for each code a wrong check kills) and the
-- check by id: with p_only, only that OTP's code can match (a sibling's right code is a wrong guess
-- for it, counted as one), and `attempts_exceeded` means that OTP's code is dead. The failure
-- budget, the throttle and the failures of the live codes are the target's, as for every check.
-- Returns also the checked OTP's attempts left (p_only; null without a limit) and, for a code's
-- first verification, the seconds from its creation.
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
    UPDATE otp o SET failed_checks = o.failed_checks + 1 WHERE o.id = ANY(live_ids) RETURNING o.id, o.failed_checks
  )
  SELECT array_agg(u.id) FILTER (WHERE p_max_failures > 0 AND u.failed_checks = p_max_failures) INTO killed FROM u;
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
    CASE WHEN p_only IS NULL THEN newest WHEN only_live THEN p_only END, p_now, p_max_failures);
  IF killed IS NOT NULL THEN
    PERFORM otp_emit_for('otp.max_attempts_reached', k.id, p_now, p_max_failures) FROM unnest(killed) AS k(id);
  END IF;
  RETURN QUERY SELECT 'mismatch'::text, NULL::bigint, otp_attempts_left(p_only, p_max_failures), NULL::float8;
END;
$$;
--> statement-breakpoint

-- The wrong checks an OTP has left: null without an OTP or without a limit (p_max_failures = 0).
CREATE OR REPLACE FUNCTION otp_attempts_left(p_id uuid, p_max_failures integer) RETURNS integer
LANGUAGE sql STABLE
SET search_path FROM CURRENT
AS $$
  SELECT CASE WHEN p_max_failures > 0 THEN greatest(p_max_failures - o.failed_checks, 0) END FROM otp o WHERE o.id = p_id
$$;
--> statement-breakpoint

-- DELETE /otp/{id}: a pending code is closed ('canceled') and `otp.canceled` emitted, under the
-- target's lock (so that a check cannot verify it at the same moment). `result`: 'canceled'; 'already'
-- when it was canceled before (by a DELETE, a resend or a sibling's use: nothing changes); 'refused'
-- for an approved, expired or dead code. No row: no such OTP.
CREATE OR REPLACE FUNCTION otp_cancel(p_id uuid, p_now timestamptz, p_max_failures integer)
RETURNS TABLE (result text, status text)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
  o_channel text;
  o_target text;
  current_status text;
BEGIN
  SELECT o.channel, o.target INTO o_channel, o_target FROM otp o WHERE o.id = p_id;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  PERFORM otp_lock_target(o_channel, o_target);
  current_status := otp_event_data(p_id, p_now, p_max_failures) #>> '{verification,status}';
  IF current_status = 'pending' THEN
    UPDATE otp o SET closed_at = p_now, closed_reason = 'canceled' WHERE o.id = p_id;
    PERFORM otp_emit_for('otp.canceled', p_id, p_now, p_max_failures);
    RETURN QUERY SELECT 'canceled'::text, 'canceled'::text;
    RETURN;
  END IF;
  RETURN QUERY SELECT CASE WHEN current_status = 'canceled' THEN 'already' ELSE 'refused' END, current_status;
END;
$$;
--> statement-breakpoint

-- `otp.expired` (docs/lifecycle.md, "Events"): at most p_limit codes that ran out in (p_from, p_now]
-- unverified, not closed and not dead of their failures (those had their own last event), not
-- emitted yet, and not before the oldest subscription that wants it (an expiry before anyone
-- subscribed is nobody's event). Each is marked (expiry_emitted) in the same transaction as its
-- event. One sweeper at a time across replicas (a tried advisory lock): -1 when another holds it.
-- Returns the codes marked; 0 at once when no subscription wants the event.
CREATE OR REPLACE FUNCTION otp_emit_expired(p_from timestamptz, p_now timestamptz, p_max_failures integer, p_limit integer)
RETURNS integer
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
  since timestamptz;
  r record;
  n integer := 0;
BEGIN
  SELECT min(w.created_at) INTO since FROM webhook w
  WHERE 'otp.expired' = ANY(w.events) OR 'otp.*' = ANY(w.events) OR '*' = ANY(w.events);
  IF since IS NULL THEN
    RETURN 0;
  END IF;
  IF NOT pg_try_advisory_xact_lock(hashtextextended(format('otp:%s:expiry-sweep', current_schema()), 0)) THEN
    RETURN -1;
  END IF;
  FOR r IN
    SELECT o.id, o.expire_at FROM otp o
    WHERE o.expire_at > greatest(p_from, since) AND o.expire_at <= p_now AND NOT o.expiry_emitted
      AND o.verified_at IS NULL AND o.closed_at IS NULL
      AND (p_max_failures = 0 OR o.failed_checks < p_max_failures)
    ORDER BY o.expire_at
    LIMIT p_limit
    FOR UPDATE SKIP LOCKED
  LOOP
    UPDATE otp o SET expiry_emitted = true WHERE o.id = r.id;
    PERFORM otp_emit('otp.expired', r.id, r.expire_at, otp_event_data(r.id, r.expire_at, p_max_failures));
    n := n + 1;
  END LOOP;
  RETURN n;
END;
$$;
--> statement-breakpoint

-- `otp.blocked`: a create the destination policy refused (docs/policy.md). There is no OTP, so the
-- data carries the masked target and the rule instead.
CREATE OR REPLACE FUNCTION otp_emit_blocked(
  p_at timestamptz,
  p_channel text,
  p_target text,
  p_country text,
  p_rule text,
  p_status_code text,
  p_metadata jsonb
) RETURNS integer
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
  IF NOT otp_wants('otp.blocked') THEN
    RETURN 0;
  END IF;
  RETURN otp_emit('otp.blocked', NULL, p_at, jsonb_build_object(
    'otp_id', NULL, 'channel', p_channel, 'target', otp_mask_target(p_target), 'country', p_country,
    'rule', p_rule, 'status_code', p_status_code, 'metadata', coalesce(p_metadata, '{}'::jsonb), 'test', false));
END;
$$;
