CREATE TABLE "otp_policy" (
	"otp_id" uuid PRIMARY KEY NOT NULL,
	"channel" text NOT NULL,
	"country" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"decision" text NOT NULL,
	"rule" text
);
--> statement-breakpoint
CREATE TABLE "policy" (
	"channel" text PRIMARY KEY NOT NULL,
	"body" jsonb NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "policy_block" (
	"channel" text NOT NULL,
	"prefix" text NOT NULL,
	"rule" text NOT NULL,
	"sent" integer NOT NULL,
	"verified" integer NOT NULL,
	"since" timestamp with time zone NOT NULL,
	"until" timestamp with time zone NOT NULL,
	"strikes" integer NOT NULL,
	"forgiven_at" timestamp with time zone,
	CONSTRAINT "policy_block_pkey" PRIMARY KEY("channel","prefix")
);
--> statement-breakpoint
CREATE INDEX "otp_policy_country_created_idx" ON "otp_policy" USING btree ("channel","country","created_at");--> statement-breakpoint
CREATE INDEX "policy_block_until_idx" ON "policy_block" USING btree ("channel","until");--> statement-breakpoint
CREATE INDEX "otp_phone_created_idx" ON "otp" USING btree ("channel","created_at") WHERE "otp"."channel" in ('sms', 'call');--> statement-breakpoint
CREATE INDEX "otp_phone_prefix_idx" ON "otp" USING btree ("channel","target" text_pattern_ops,"created_at") WHERE "otp"."channel" in ('sms', 'call');--> statement-breakpoint

-- The destination policy (docs/policy.md). Its counters follow the limits' pattern: an advisory
-- lock per key, held until the create's transaction ends, then counts over the accepted codes
-- with a snapshot taken after the lock (every statement of a VOLATILE PL/pgSQL function gets a
-- fresh one under READ COMMITTED), so that concurrent creates on any replica are counted one after
-- the other. Keys are always locked in one order: the channel's budget, the country, then prefixes
-- shortest first (then the limits' ip and target keys, then the create's own), so no two creates
-- wait for each other in opposite orders.
CREATE OR REPLACE FUNCTION otp_policy_lock(p_channel text, p_kind text, p_value text) RETURNS void
LANGUAGE sql
SET search_path FROM CURRENT
AS $$
  SELECT pg_advisory_xact_lock(
    hashtextextended(format('otp:%s:policy:%s:%s:%s', current_schema(), p_channel, p_kind, p_value), 0));
$$;
--> statement-breakpoint

-- The windows of one channel-wide or country-wide key (p_kind 'budget' or 'country'), each counted
-- up to its cap (the rule's rate: the count only has to say whether one more fits).
CREATE OR REPLACE FUNCTION otp_policy_window_counts(
  p_kind text,
  p_channel text,
  p_value text,
  p_cutoffs timestamptz[],
  p_caps integer[]
) RETURNS integer[]
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
  IF p_kind = 'budget' THEN
    RETURN ARRAY(
      SELECT (SELECT count(*) FROM (
        SELECT 1 FROM otp o
        WHERE o.channel = p_channel AND o.channel IN ('sms', 'call') AND o.created_at > w.cutoff LIMIT w.cap) s)::integer
      FROM unnest(p_cutoffs, p_caps) WITH ORDINALITY AS w(cutoff, cap, ord) ORDER BY w.ord);
  END IF;
  RETURN ARRAY(
    SELECT (SELECT count(*) FROM (
      SELECT 1 FROM otp_policy c
      WHERE c.channel = p_channel AND c.country = p_value AND c.created_at > w.cutoff LIMIT w.cap) s)::integer
    FROM unnest(p_cutoffs, p_caps) WITH ORDINALITY AS w(cutoff, cap, ord) ORDER BY w.ord);
END;
$$;
--> statement-breakpoint

-- Locks a budget or country key and counts its windows. A key that every create of a channel or a
-- country takes would make them all take turns, so it is first taken in shared mode: the counts
-- are then exact but for the creates holding it too, each adding at most one code before it
-- commits, and each in a transaction of its own on a server connection, so at most p_in_flight
-- (max_connections) of them. While every window has room for that many more, the create goes on
-- beside the others; when one has not, the shared lock is let go (the subtransaction rolls back)
-- and the key is taken exclusively, after the creates holding it commit, and counted again: the
-- last codes a window has room for are counted one after the other, exactly.
CREATE OR REPLACE FUNCTION otp_policy_hold(
  p_kind text,
  p_channel text,
  p_value text,
  p_cutoffs timestamptz[],
  p_caps integer[],
  p_in_flight integer
) RETURNS integer[]
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
  k bigint := hashtextextended(format('otp:%s:policy:%s:%s:%s', current_schema(), p_channel, p_kind, p_value), 0);
  counts integer[];
BEGIN
  IF cardinality(p_cutoffs) = 0 THEN
    RETURN '{}'::integer[];
  END IF;
  BEGIN
    PERFORM pg_advisory_xact_lock_shared(k);
    counts := otp_policy_window_counts(p_kind, p_channel, p_value, p_cutoffs, p_caps);
    IF EXISTS (SELECT 1 FROM unnest(counts, p_caps) AS w(n, cap) WHERE w.n + p_in_flight >= w.cap) THEN
      RAISE EXCEPTION USING ERRCODE = 'OT001';
    END IF;
    RETURN counts;
  EXCEPTION WHEN SQLSTATE 'OT001' THEN
    NULL;
  END;
  PERFORM pg_advisory_xact_lock(k);
  RETURN otp_policy_window_counts(p_kind, p_channel, p_value, p_cutoffs, p_caps);
END;
$$;
--> statement-breakpoint

-- Everything a policed create is judged by after the lists and the hook, in one round trip: takes
-- the locks of the windows it is given (the budget's and the country's as otp_policy_hold does,
-- each prefix's exclusively), counts each window (at most its cap), the conversion guard's figures for the target's
-- prefix (codes older than p_guard_ripe or verified, sent since the window's start, or the start of
-- the window that tripped the prefix's last suspension while its streak lasts, and since the last
-- lift; every code when there is no lag), and the active suspension of any prefix of the target. Prefix ranges are written
-- `target ~>=~ p AND target ~<~ p || ':'` (':' follows '9'), served by otp_phone_prefix_idx.
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
      AND o.created_at > greatest(window_start, forgiven);
  END IF;

  SELECT b.prefix, b.until INTO suspended_prefix, suspended_until
  FROM policy_block b
  WHERE b.channel = p_channel AND b.prefix = ANY(p_target_prefixes) AND b.until > p_now
  ORDER BY b.until DESC
  LIMIT 1;
  RETURN NEXT;
END;
$$;
