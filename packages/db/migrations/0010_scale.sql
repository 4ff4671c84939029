-- Only the indexes the queries use (docs/performance.md, "Queries and their plans"). One index on
-- (channel, target text_pattern_ops, created_at) serves what two did: a target's checks and
-- limit windows (text_pattern_ops' = is text's own) and the destination policy's prefix ranges
-- (~>=~, ~<~); GET /password names every channel and uses it too, so otp_target_created_idx goes.
-- Each sms and call create then updates two indexes fewer, email and telegram one fewer.
-- IF NOT EXISTS: an operator with a large table may build it beforehand without blocking writes
-- (`CREATE INDEX CONCURRENTLY otp_channel_target_idx ON otp (channel, target text_pattern_ops,
-- created_at)`, docs/migrating.md), and this migration then only drops the old ones.
-- A build beforehand that failed midway leaves an INVALID index of that name, which IF NOT EXISTS
-- would keep while the working ones are dropped: such a one is dropped and built again here.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             WHERE c.relname = 'otp_channel_target_idx' AND c.relnamespace = current_schema()::regnamespace
               AND NOT i.indisvalid) THEN
    DROP INDEX otp_channel_target_idx;
  END IF;
END;
$$;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "otp_channel_target_idx" ON "otp" USING btree ("channel","target" text_pattern_ops,"created_at");--> statement-breakpoint
DROP INDEX "otp_channel_target_created_idx";--> statement-breakpoint
DROP INDEX "otp_target_created_idx";--> statement-breakpoint
DROP INDEX "otp_phone_prefix_idx";
