CREATE TABLE "check_budget" (
	"channel" text NOT NULL,
	"target" text NOT NULL,
	"ip" text NOT NULL,
	"failures" integer NOT NULL,
	"delays" integer DEFAULT 0 NOT NULL,
	"blocked_until" timestamp with time zone,
	"expire_at" timestamp with time zone NOT NULL,
	CONSTRAINT "check_budget_pkey" PRIMARY KEY("channel","target","ip")
);
--> statement-breakpoint
CREATE TABLE "lookup_miss" (
	"key" text NOT NULL,
	"at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "otp" ADD COLUMN "closed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "otp" ADD COLUMN "closed_reason" text;--> statement-breakpoint
CREATE INDEX "check_budget_expire_idx" ON "check_budget" USING btree ("expire_at");--> statement-breakpoint
CREATE INDEX "lookup_miss_key_at_idx" ON "lookup_miss" USING btree ("key","at");--> statement-breakpoint
CREATE INDEX "lookup_miss_at_idx" ON "lookup_miss" USING btree ("at");--> statement-breakpoint
ALTER TABLE "otp" ADD CONSTRAINT "otp_closed_check" CHECK (("otp"."closed_at" is null) = ("otp"."closed_reason" is null) and "otp"."closed_reason" in ('consumed', 'sibling_consumed', 'superseded'));