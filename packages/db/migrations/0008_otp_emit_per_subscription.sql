-- otp_emit (0007) drew one id for all the subscriptions an event fans out to: a LATERAL subquery
-- that references nothing of the outer row is computed once, so a second matching subscription
-- failed the insert on the outbox's primary key (and with it the state change it reported). The
-- id is now drawn in the select list of the subscriptions' own scan, once per row. Otherwise the
-- same function (docs/lifecycle.md): one outbox row per matching subscription, routed `webhook`,
-- whose JSON is the WebhookMessage of @otp/contracts.
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
    SELECT gen_random_uuid() AS id, w.id AS subscription_id
    FROM webhook w
    WHERE p_type = ANY(w.events) OR 'otp.*' = ANY(w.events) OR '*' = ANY(w.events)
  ) m;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END;
$$;
