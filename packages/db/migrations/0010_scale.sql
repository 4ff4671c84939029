-- Only the indexes the queries use (docs/performance.md, "Queries and their plans"). One index on
-- (channel, target text_pattern_ops, created_at) serves what two did: a target's checks and
-- limit windows (text_pattern_ops' = is text's own) and the destination policy's prefix ranges
-- (~>=~, ~<~); GET /password names every channel and uses it too, so otp_target_created_idx goes.
-- Each sms and call create then updates two indexes fewer, email and telegram one fewer.
-- IF NOT EXISTS: an operator with a large table may build it beforehand without blocking writes
-- (`CREATE INDEX CONCURRENTLY otp_channel_target_idx ON otp (channel, target text_pattern_ops,
-- created_at)`, docs/migrating.md), and this migration then only drops the old ones.
CREATE INDEX IF NOT EXISTS "otp_channel_target_idx" ON "otp" USING btree ("channel","target" text_pattern_ops,"created_at");--> statement-breakpoint
DROP INDEX "otp_channel_target_created_idx";--> statement-breakpoint
DROP INDEX "otp_target_created_idx";--> statement-breakpoint
DROP INDEX "otp_phone_prefix_idx";
