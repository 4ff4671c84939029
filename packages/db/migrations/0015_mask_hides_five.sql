-- otp_mask_target as in 0007 (docs/security.md, "Logs"), the same as maskTarget in the API, but
-- hiding at least five characters of a phone or chat id: 0007 showed six of an 8-digit chat id
-- (`1234**78`, a hundred candidates). Numbers of eleven digits and more read as before
-- (`77011234567` → `7701*****67`); emails too (`f***@example.com`).
CREATE OR REPLACE FUNCTION otp_mask_target(p_target text) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
  SELECT CASE
    WHEN position('@' IN p_target) > 0 THEN
      left(p_target, least(1, length(p_target) - position('@' IN reverse(p_target))))
        || '***' || right(p_target, position('@' IN reverse(p_target)))
    ELSE (
      SELECT left(p_target, shown - last) || repeat('*', length(p_target) - shown) || right(p_target, last)
      FROM (
        SELECT shown, CASE WHEN shown >= 3 THEN 2 WHEN shown = 2 THEN 1 ELSE 0 END AS last
        FROM (SELECT length(p_target) - least(length(p_target), greatest(5, length(p_target) - 6)) AS shown) s
      ) l
    )
  END
$$;
