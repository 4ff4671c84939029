-- GET /stats (docs/statistics.md): windows by created_at, old ones too, through a BRIN index; rows are
-- written in time order, so one summary per 32 pages finds them, and an insert into the table's last,
-- not yet summarised range writes nothing to it.
CREATE INDEX IF NOT EXISTS "otp_created_brin" ON "otp" USING brin ("created_at") WITH (pages_per_range=32);
