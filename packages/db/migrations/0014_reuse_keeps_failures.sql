-- otp_reusable as in 0002 (docs/security.md, "Resends and single use"), but a code already
-- verified is not sent again: under OTP_SINGLE_USE=false an approved code stays live, and a new
-- sign-in must not be handed a code that was already typed (and possibly seen) for an earlier one.
-- Same signature, so both versions of the API use it during a rolling upgrade. The copy's wrong
-- checks are carried over by the API after the insert (`otp.carryFailures`).
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
      AND o.verified_at IS NULL
      AND (p_max_failures = 0 OR o.failed_checks < p_max_failures)
    ORDER BY o.created_at DESC
    LIMIT 1
  ) n
  WHERE n.expire_at > p_now + p_min_left;
END;
$$;
