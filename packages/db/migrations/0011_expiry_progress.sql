CREATE TABLE "expiry_sweep" (
	"one" boolean PRIMARY KEY DEFAULT true NOT NULL,
	"swept_to" timestamp with time zone NOT NULL
);
--> statement-breakpoint

-- otp.expired after an outage of any length (docs/lifecycle.md, "Events"): `expiry_sweep` (above)
-- keeps how far the sweeps have gone, and a batch now also says where it stopped (`last_at`), so
-- that the next batch of a long catch-up starts there instead of walking the marked codes again,
-- and whether any subscription wants the event (`wanted`: without one, nothing is recorded).
-- Otherwise as 0008's `otp_emit_expired`, which stays for the previous version's API during a
-- rolling upgrade (its sweeps then record no progress, which only shortens a later catch-up).
CREATE FUNCTION otp_sweep_expired(p_from timestamptz, p_now timestamptz, p_max_failures integer, p_limit integer)
RETURNS TABLE (n integer, last_at timestamptz, wanted boolean)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
  since timestamptz;
  r record;
BEGIN
  n := 0;
  SELECT min(w.created_at) INTO since FROM webhook w
  WHERE 'otp.expired' = ANY(w.events) OR 'otp.*' = ANY(w.events) OR '*' = ANY(w.events);
  wanted := since IS NOT NULL;
  IF NOT wanted THEN
    RETURN NEXT;
    RETURN;
  END IF;
  IF NOT pg_try_advisory_xact_lock(hashtextextended(format('otp:%s:expiry-sweep', current_schema()), 0)) THEN
    n := -1;
    RETURN NEXT;
    RETURN;
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
    last_at := r.expire_at;
  END LOOP;
  RETURN NEXT;
END;
$$;
