import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, randomInt } from "node:crypto";
import { type DeliveryContent, DeliveryContent as DeliveryContentSchema } from "./event.js";
import { randomBlocks } from "./random-blocks.js";

/**
 * The secrets (docs/security.md). One master secret (`OTP_SECRET`, or a generated one stored in the
 * database) is stretched with HKDF into two independent keys: one for the HMAC digests used to
 * match codes, one for AES-256-GCM encryption of codes and delivery texts.
 */
export interface Keyring {
  readonly hmacKey: Buffer;
  readonly aesKey: Buffer;
}

export function deriveKeyring(masterSecret: string): Keyring {
  const ikm = Buffer.from(masterSecret, "utf8");
  const salt = Buffer.from("otp-service/v1", "utf8");
  return {
    hmacKey: Buffer.from(hkdfSync("sha256", ikm, salt, "hmac", 32)),
    aesKey: Buffer.from(hkdfSync("sha256", ikm, salt, "aes-256-gcm", 32)),
  };
}

/** HMAC-SHA256 of a code: what is stored and compared, never the code itself. */
export function digestPassword(keys: Keyring, password: string): Buffer {
  return createHmac("sha256", keys.hmacKey).update(password, "utf8").digest();
}

const FORMAT_V1 = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** A create seals two values (the code, the delivery texts): their IVs come from pooled random blocks. */
const nextIv = randomBlocks(IV_BYTES);

/**
 * AES-256-GCM with a random IV. `context` is authenticated but not stored (e.g. the OTP id), so a
 * ciphertext copied onto another row does not decrypt. Layout: version | iv | tag | ciphertext.
 */
export function encrypt(keys: Keyring, plaintext: string, context: string): Buffer {
  const iv = nextIv();
  const cipher = createCipheriv("aes-256-gcm", keys.aesKey, iv);
  cipher.setAAD(Buffer.from(context, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return Buffer.concat([Buffer.of(FORMAT_V1), iv, cipher.getAuthTag(), body]);
}

/** Inverse of {@link encrypt}; throws when the key, the context or the bytes are wrong. */
export function decrypt(keys: Keyring, sealed: Buffer, context: string): string {
  if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== FORMAT_V1) {
    throw new Error("not a sealed value of a known format");
  }
  const iv = sealed.subarray(1, 1 + IV_BYTES);
  const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
  const decipher = createDecipheriv("aes-256-gcm", keys.aesKey, iv);
  decipher.setAAD(Buffer.from(context, "utf8"));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(sealed.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
}

/** Seals a delivery's content into the event, bound to the event id. */
export function sealContent(keys: Keyring, content: DeliveryContent, eventId: string): string {
  return encrypt(keys, JSON.stringify(content), eventId).toString("base64url");
}

/** Opens what {@link sealContent} sealed; throws if it was tampered with or sealed under another key. */
export function unsealContent(keys: Keyring, sealed: string, eventId: string): DeliveryContent {
  return DeliveryContentSchema.parse(JSON.parse(decrypt(keys, Buffer.from(sealed, "base64url"), eventId)));
}

/** A numeric code of `length` digits from the CSPRNG, leading zeros allowed. */
export function generateCode(length: number): string {
  let code = "";
  for (let i = 0; i < length; i++) code += String(randomInt(10));
  return code;
}

/** A fresh master secret, for when `OTP_SECRET` is not configured. */
export function generateMasterSecret(): string {
  return randomBytes(32).toString("base64url");
}
