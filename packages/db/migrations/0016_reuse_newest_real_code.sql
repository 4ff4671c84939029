-- otp_reusable as in 0014 (docs/security.md, "Resends and single use"), with two cases put right:
-- - a test target's code (docs/test-targets.md) is never re-sent: once its test target was deleted
--   or had expired, an ordinary create to that number re-sent the fixed code the reviewer knows, to
--   the real number, as a real sign-in code;
-- - the newest live code is the one considered: a newest code already verified gets a new code,
--   rather than an older unverified one (left from OTP_RESEND=new) being sent again.
-- Same signature, so both versions of the API use it during a rolling upgrade.
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
    SELECT o.id, o.password_cipher, o.generated, o.expire_at, o.verified_at, o.test FROM otp o
    WHERE o.channel = p_channel AND o.target = p_target AND o.expire_at > p_now AND o.closed_at IS NULL
      AND (p_max_failures = 0 OR o.failed_checks < p_max_failures)
    ORDER BY o.created_at DESC
    LIMIT 1
  ) n
  WHERE n.expire_at > p_now + p_min_left AND n.verified_at IS NULL AND NOT n.test;
END;
$$;
