import { CHANNELS, type Channel } from "@otp/contracts";
import type { LiveParams, OtpStatusRow } from "./otp.js";
import { type Placeholders, statement } from "./statement.js";

/** The lookups of `GET /target`, `GET /password` and `GET /otp/{id}`. */
export function lookupSql(otp: string) {
  const alive = (p: Placeholders<LiveParams>) =>
    `expire_at > ${p.now} AND closed_at IS NULL AND (${p.maxFailures}::int = 0 OR failed_checks < ${p.maxFailures}::int)`;
  return {
    /**
     * `GET /target`: the targets of the live OTPs of a channel with this code, the newest first, at
     * most two (generated codes are unique, so two mean a client chose a code another target has).
     * Rows: `target`.
     */
    targetsByDigest: statement<LiveParams & { channel: Channel; passwordDigest: Buffer }>(
      ["channel", "now", "maxFailures", "passwordDigest"],
      (p) => `SELECT target FROM ${otp}
WHERE channel = ${p.channel} AND password_digest = ${p.passwordDigest} AND ${alive(p)}
GROUP BY target ORDER BY max(created_at) DESC LIMIT 2`,
    ),

    /**
     * `GET /password`: the newest live OTP of a target (any of its spellings), any channel. Row:
     * `id`, `password_cipher`. Every channel is named so that `otp_channel_target_idx`
     * serves it (a probe per channel and spelling), and no index of its own is needed
     * (docs/performance.md, "Queries and their plans").
     */
    newestOfTarget: statement<LiveParams & { targets: readonly string[] }>(
      ["targets", "now", "maxFailures"],
      (p) => `SELECT id, password_cipher FROM ${otp}
WHERE channel = ANY('{${CHANNELS.join(",")}}'::text[]) AND target = ANY(${p.targets}::text[]) AND ${alive(p)}
ORDER BY created_at DESC LIMIT 1`,
    ),

    /** `GET /otp/{id}`. Row: {@link OtpStatusRow}. */
    statusById: statement<{ id: string }>(
      ["id"],
      (p) => `SELECT id, channel, created_at, expire_at, delivery_status, delivery_attempts, delivery_last_error,
  delivered_at, test FROM ${otp} WHERE id = ${p.id}`,
    ),
  };
}
