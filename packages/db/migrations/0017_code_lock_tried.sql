-- otp_issue as in 0008 (docs/security.md, "Codes the service generates"), but for the lock on a
-- drawn code's digest, which is tried rather than waited for: a code another create is inserting
-- at this moment counts as taken ('duplicate', and the API draws again). Waiting could deadlock
-- two creates on a crowded channel, each holding the lock of a duplicate it drew and drawing the
-- other's next; one of them was rolled back with an error. Same signature, so both versions of the
-- API use it during a rolling upgrade.
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
    -- Tried, not waited for: a code another create is inserting right now is as taken as a live
    -- one. Waiting could deadlock two creates that each hold a drawn duplicate's lock and draw the
    -- other's code next.
    IF NOT pg_try_advisory_xact_lock(
      hashtextextended(format('otp:%s:code:%s:%s', current_schema(), p_channel, encode(p_digest, 'hex')), 0)) THEN
      RETURN 'duplicate';
    END IF;
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
