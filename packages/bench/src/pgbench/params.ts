import { createHash, randomBytes, randomUUID } from "node:crypto";
import { DELIVERY_EVENT_VERSION, digestPassword, encrypt, type Keyring, sealContent } from "@otp/contracts";
import type { CheckParams, IssueParams } from "@otp/db";
import { CHECK_PHONE_BASE, fixedParams } from "./scripts.js";

/**
 * The parameters pgbench passes as they are (the rest its scripts compute per transaction): those
 * of a real request, built as the API builds them, so PostgreSQL does the same work.
 */

/** A create of code 12345 by SMS for an hour, with its delivery event. */
export function createParams(keys: Keyring): Record<string, string> {
  const otpId = randomUUID();
  const eventId = randomUUID();
  const now = new Date();
  const expire = new Date(now.getTime() + 3_600_000);
  const event = {
    v: DELIVERY_EVENT_VERSION,
    id: eventId,
    otp_id: otpId,
    channel: "sms",
    target: String(CHECK_PHONE_BASE),
    created_at: now.toISOString(),
    expire_at: expire.toISOString(),
    sealed: sealContent(keys, { password: "12345", message: "Your OTP is 12345" }, eventId),
  };
  return fixedParams({
    channel: "sms",
    ip: "123.123.123.123",
    passwordDigest: `\\x${digestPassword(keys, "12345").toString("hex")}`,
    passwordCipher: `\\x${encrypt(keys, "12345", otpId).toString("hex")}`,
    generated: "false",
    createdAt: now.toISOString(),
    expireAt: expire.toISOString(),
    event: JSON.stringify(event),
    // The API's defaults: a client's code (no uniqueness test), OTP_RESEND=new.
    guarded: "true",
    unique: "false",
    supersede: "false",
    maxFailures: "5",
  } satisfies Partial<Record<keyof IssueParams, string>>);
}

/** A right guess of 12345, blinded as the API blinds it (a fixed nonce here: the work is the same). */
export function checkParams(keys: Keyring): Record<string, string> {
  const nonce = randomBytes(16);
  const blinded = createHash("sha256").update(digestPassword(keys, "12345")).update(nonce).digest();
  return fixedParams({
    channel: "sms",
    now: new Date().toISOString(),
    nonce: `\\x${nonce.toString("hex")}`,
    blinded: `\\x${blinded.toString("hex")}`,
    maxFailures: "5",
    singleUse: "false",
    throttleAfter: "5",
  } satisfies Partial<Record<keyof CheckParams, string>>);
}
