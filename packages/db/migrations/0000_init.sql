CREATE TABLE "app_secret" (
	"name" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "limit_rule" (
	"channel" text NOT NULL,
	"measure" text NOT NULL,
	"position" integer NOT NULL,
	"minutes" integer NOT NULL,
	"rate" integer NOT NULL,
	CONSTRAINT "limit_rule_pkey" PRIMARY KEY("channel","measure","position"),
	CONSTRAINT "limit_rule_measure_check" CHECK ("limit_rule"."measure" in ('ip', 'target')),
	CONSTRAINT "limit_rule_positive_check" CHECK ("limit_rule"."minutes" > 0 and "limit_rule"."rate" > 0)
);
--> statement-breakpoint
CREATE TABLE "otp" (
	"id" uuid PRIMARY KEY NOT NULL,
	"channel" text NOT NULL,
	"target" text NOT NULL,
	"ip" text,
	"password_digest" "bytea" NOT NULL,
	"password_cipher" "bytea" NOT NULL,
	"generated" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"expire_at" timestamp with time zone NOT NULL,
	"failed_checks" integer DEFAULT 0 NOT NULL,
	"used_at" timestamp with time zone,
	"delivery_status" text DEFAULT 'pending' NOT NULL,
	"delivery_attempts" integer DEFAULT 0 NOT NULL,
	"delivery_last_error" text,
	"delivered_at" timestamp with time zone,
	CONSTRAINT "otp_channel_check" CHECK ("otp"."channel" in ('sms', 'call', 'email', 'telegram')),
	CONSTRAINT "otp_delivery_status_check" CHECK ("otp"."delivery_status" in ('pending', 'delivered', 'failed', 'expired'))
);
--> statement-breakpoint
CREATE TABLE "outbox" (
	"id" uuid PRIMARY KEY NOT NULL,
	"otp_id" uuid NOT NULL,
	"channel" text NOT NULL,
	"event" jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"relay_attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text
);
--> statement-breakpoint
CREATE INDEX "otp_channel_target_created_idx" ON "otp" USING btree ("channel","target","created_at");--> statement-breakpoint
CREATE INDEX "otp_channel_ip_created_idx" ON "otp" USING btree ("channel","ip","created_at") WHERE "otp"."ip" is not null;--> statement-breakpoint
CREATE INDEX "otp_channel_digest_idx" ON "otp" USING btree ("channel","password_digest");--> statement-breakpoint
CREATE INDEX "otp_target_created_idx" ON "otp" USING btree ("target","created_at");--> statement-breakpoint
CREATE INDEX "otp_expire_idx" ON "otp" USING btree ("expire_at");--> statement-breakpoint
CREATE INDEX "outbox_created_idx" ON "outbox" USING btree ("created_at");