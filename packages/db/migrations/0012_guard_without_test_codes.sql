-- The conversion guard leaves test targets' codes out of its figures (docs/policy.md, "The
-- conversion guard"; docs/test-targets.md): an end-to-end suite that lets its test codes expire
-- unverified must not suspend the real numbers of its prefix. The guard's rows are read from the
-- table anyway (verified_at), so the filter costs nothing. Otherwise as 0006's otp_policy_counts.
-- Budgets and prefix limits still count them: a count that refuses earlier, never later, and an
-- index-only scan that a filter on `test` would turn into a read of every counted row.
CREATE OR REPLACE FUNCTION otp_policy_counts(
  p_channel text,
  p_now timestamptz,
  p_budget_cutoffs timestamptz[],
  p_budget_caps integer[],
  p_country text,
  p_country_cutoffs timestamptz[],
  p_country_caps integer[],
  p_prefixes text[],
  p_prefix_cutoffs timestamptz[],
  p_prefix_caps integer[],
  p_guard_prefix text,
  p_guard_cutoff timestamptz,
  p_guard_ripe timestamptz,
  p_guard_memory timestamptz,
  p_target_prefixes text[]
) RETURNS TABLE (
  budget_counts integer[],
  country_counts integer[],
  prefix_counts integer[],
  guard_sent integer,
  guard_verified integer,
  guard_strikes integer,
  guard_until timestamptz,
  suspended_prefix text,
  suspended_until timestamptz
)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
  k text;
  forgiven timestamptz;
  tripped timestamptz;
  window_start timestamptz;
  in_flight integer;
BEGIN
  in_flight := current_setting('max_connections')::integer + current_setting('max_prepared_transactions')::integer;
  budget_counts := otp_policy_hold('budget', p_channel, '', p_budget_cutoffs, p_budget_caps, in_flight);
  country_counts := otp_policy_hold('country', p_channel, p_country, p_country_cutoffs, p_country_caps, in_flight);
  FOR k IN
    SELECT d.p FROM (SELECT DISTINCT x AS p FROM unnest(array_append(p_prefixes, p_guard_prefix)) x WHERE x IS NOT NULL) d
    ORDER BY length(d.p), d.p
  LOOP
    PERFORM otp_policy_lock(p_channel, 'prefix', k);
  END LOOP;

  prefix_counts := ARRAY(
    SELECT (SELECT count(*) FROM (
      SELECT 1 FROM otp o
      WHERE o.channel = p_channel AND o.channel IN ('sms', 'call')
        AND o.target ~>=~ w.pfx AND o.target ~<~ (w.pfx || ':') AND o.created_at > w.cutoff LIMIT w.cap) s)::integer
    FROM unnest(p_prefixes, p_prefix_cutoffs, p_prefix_caps) WITH ORDINALITY AS w(pfx, cutoff, cap, ord) ORDER BY w.ord);

  IF p_guard_prefix IS NOT NULL THEN
    SELECT b.strikes, b.until, b.forgiven_at, b.since INTO guard_strikes, guard_until, forgiven, tripped
    FROM policy_block b WHERE b.channel = p_channel AND b.prefix = p_guard_prefix;
    -- While a streak of suspensions lasts (its last one ended less than p_guard_memory ago), the
    -- window reaches back to cover what tripped the last one: a suspension's evidence does not
    -- leave the window while the prefix is suspended, so a persistent attack finds it closed again.
    IF guard_strikes > 0 AND guard_until >= p_guard_memory THEN
      window_start := least(p_guard_cutoff, tripped - (p_now - p_guard_cutoff));
    ELSE
      window_start := p_guard_cutoff;
    END IF;
    -- With no lag (p_guard_ripe = p_now) every code counts, those of creates that held the lock a
    -- moment ago included, whose created_at may be later than this create's p_now.
    SELECT count(*) FILTER (WHERE o.created_at <= p_guard_ripe OR p_guard_ripe >= p_now OR o.verified_at IS NOT NULL)::integer,
           count(*) FILTER (WHERE o.verified_at IS NOT NULL)::integer
    INTO guard_sent, guard_verified
    FROM otp o
    WHERE o.channel = p_channel AND o.channel IN ('sms', 'call')
      AND o.target ~>=~ p_guard_prefix AND o.target ~<~ (p_guard_prefix || ':')
      AND o.created_at > greatest(window_start, forgiven)
      AND NOT o.test;
  END IF;

  SELECT b.prefix, b.until INTO suspended_prefix, suspended_until
  FROM policy_block b
  WHERE b.channel = p_channel AND b.prefix = ANY(p_target_prefixes) AND b.until > p_now
  ORDER BY b.until DESC
  LIMIT 1;
  RETURN NEXT;
END;
$$;
