CREATE TABLE "test_target" (
	"channel" text NOT NULL,
	"target" text NOT NULL,
	"password_digest" "bytea" NOT NULL,
	"password_cipher" "bytea" NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "test_target_pkey" PRIMARY KEY("channel","target")
);
--> statement-breakpoint
CREATE TABLE "webhook" (
	"id" uuid PRIMARY KEY NOT NULL,
	"url" text NOT NULL,
	"events" text[] NOT NULL,
	"secret_cipher" "bytea" NOT NULL,
	"source" text DEFAULT 'api' NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "otp" DROP CONSTRAINT "otp_closed_check";--> statement-breakpoint
ALTER TABLE "outbox" ALTER COLUMN "otp_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "otp" ADD COLUMN "metadata" jsonb;--> statement-breakpoint
ALTER TABLE "otp" ADD COLUMN "test" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "otp" ADD COLUMN "country" text;--> statement-breakpoint
ALTER TABLE "otp" ADD COLUMN "expiry_emitted" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "test_target_expires_idx" ON "test_target" USING btree ("expires_at");--> statement-breakpoint
ALTER TABLE "otp" ADD CONSTRAINT "otp_closed_check" CHECK (("otp"."closed_at" is null) = ("otp"."closed_reason" is null) and "otp"."closed_reason" in ('consumed', 'sibling_consumed', 'superseded', 'canceled'));--> statement-breakpoint
ALTER TABLE "otp" DROP CONSTRAINT "otp_delivery_status_check";--> statement-breakpoint
ALTER TABLE "otp" ADD CONSTRAINT "otp_delivery_status_check" CHECK ("otp"."delivery_status" in ('pending', 'delivered', 'failed', 'expired', 'canceled'));--> statement-breakpoint
-- The verification lifecycle (docs/lifecycle.md). The masked form of a target, as maskTarget in
-- the API shows it in logs: `77011234567` → `7701*****67`, `foobar@example.com` → `f***@example.com`.
CREATE OR REPLACE FUNCTION otp_mask_target(p_target text) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
  SELECT CASE
    WHEN position('@' IN p_target) > 0 THEN
      left(p_target, least(1, length(p_target) - position('@' IN reverse(p_target))))
        || '***' || right(p_target, position('@' IN reverse(p_target)))
    WHEN length(p_target) >= 8 THEN left(p_target, 4) || repeat('*', length(p_target) - 6) || right(p_target, 2)
    WHEN length(p_target) >= 3 THEN left(p_target, 1) || repeat('*', length(p_target) - 2) || right(p_target, 1)
    ELSE repeat('*', length(p_target))
  END
$$;
--> statement-breakpoint
-- An OTP's state as events and GET /otp/{id} show it: `verification.status` is Twilio Verify's
-- (pending, approved, canceled with a reason, max_attempts_reached, expired). Null when no such OTP.
CREATE OR REPLACE FUNCTION otp_event_data(p_otp_id uuid, p_now timestamptz, p_max_failures integer) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path FROM CURRENT
AS $$
  SELECT jsonb_build_object(
    'otp_id', o.id,
    'channel', o.channel,
    'target', otp_mask_target(o.target),
    'country', o.country,
    'metadata', coalesce(o.metadata, '{}'::jsonb),
    'test', o.test,
    'delivery', jsonb_build_object('status', o.delivery_status, 'attempts', o.delivery_attempts,
      'delivered_at', o.delivered_at),
    'verification', jsonb_build_object(
      'status', s.status,
      'reason', CASE WHEN s.status = 'canceled' THEN o.closed_reason END,
      'attempts_left', CASE WHEN p_max_failures > 0 THEN greatest(p_max_failures - o.failed_checks, 0) END,
      'expires_in', CASE WHEN s.status = 'pending' THEN ceil(extract(epoch FROM o.expire_at - p_now))::integer END,
      'verified_at', o.verified_at))
  FROM otp o
  CROSS JOIN LATERAL (SELECT CASE
    WHEN o.verified_at IS NOT NULL THEN 'approved'
    WHEN o.closed_at IS NOT NULL THEN 'canceled'
    WHEN p_max_failures > 0 AND o.failed_checks >= p_max_failures THEN 'max_attempts_reached'
    WHEN o.expire_at <= p_now THEN 'expired'
    ELSE 'pending' END AS status) s
  WHERE o.id = p_otp_id
$$;
--> statement-breakpoint
-- Fans one lifecycle event out to the webhook subscriptions that want it: one outbox row each, in
-- the caller's transaction (so the event commits with the state change it reports), routed
-- `webhook`. The row's JSON is the WebhookMessage of @otp/contracts (lifecycle.ts): `id` is the
-- `webhook-id` every retry keeps, `payload` the exact body sent. Returns the rows written.
CREATE OR REPLACE FUNCTION otp_emit(p_type text, p_otp_id uuid, p_at timestamptz, p_data jsonb) RETURNS integer
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
  n integer;
BEGIN
  INSERT INTO outbox (id, otp_id, channel, event, created_at)
  SELECT m.id, p_otp_id, 'webhook',
    jsonb_build_object('v', 1, 'id', 'msg_' || m.id::text, 'subscription_id', w.id, 'otp_id', p_otp_id,
      'type', p_type,
      'payload', jsonb_build_object('type', p_type,
        'timestamp', to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'data', p_data)),
    p_at
  FROM webhook w CROSS JOIN LATERAL (SELECT gen_random_uuid() AS id) m
  WHERE p_type = ANY(w.events) OR 'otp.*' = ANY(w.events) OR '*' = ANY(w.events);
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END;
$$;
