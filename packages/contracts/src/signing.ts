import { randomBytes, randomUUID } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { decrypt, type Keyring } from "./crypto.js";

/**
 * Signed outgoing requests in the Standard Webhooks format (https://www.standardwebhooks.com/): the
 * three headers `webhook-id`, `webhook-timestamp` (seconds) and `webhook-signature`
 * (`v1,` + base64 of HMAC-SHA256 over `${id}.${timestamp}.${body}`, keyed with the secret's bytes),
 * computed by the `standardwebhooks` package so that a receiver verifying with any Standard
 * Webhooks library agrees. The pre-send hook signs with it (docs/policy.md, "The pre-send hook");
 * it is meant for every request the service signs, the lifecycle webhooks too.
 */

/** What a Standard Webhooks secret looks like: `whsec_` and the key's bytes in base64. */
export const WEBHOOK_SECRET_PATTERN = /^whsec_[A-Za-z0-9+/]{22,}={0,2}$/;

export interface SignedHeaders {
  readonly "webhook-id": string;
  readonly "webhook-timestamp": string;
  readonly "webhook-signature": string;
}

export interface Signer {
  /**
   * The headers for `body`, the exact bytes that will be sent. `id` stays the same across retries
   * of one message (receivers drop repeats by it); a fresh one is drawn when it is left out.
   */
  sign(body: string, options?: { id?: string; at?: Date }): SignedHeaders;
}

/** A signer for one `whsec_…` secret; throws when the secret is not one. */
export function createSigner(secret: string): Signer {
  if (!WEBHOOK_SECRET_PATTERN.test(secret)) throw new Error("a webhook secret must be whsec_ followed by base64");
  const webhook = new Webhook(secret);
  return {
    sign(body, options = {}) {
      const id = options.id ?? `msg_${randomUUID()}`;
      const at = options.at ?? new Date();
      return {
        "webhook-id": id,
        "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
        "webhook-signature": webhook.sign(id, at, body),
      };
    },
  };
}

/** A new random secret in the Standard Webhooks form (24 bytes), e.g. for docs and tests. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString("base64")}`;
}

/**
 * The signer of a webhook subscription from its stored row: its secret is sealed with the keyring,
 * bound to the subscription's id. Undefined when it does not open — sealed under another
 * OTP_SECRET, or not a secret (docs/lifecycle.md, "Webhook subscriptions").
 */
export function openSubscriptionSigner(keys: Keyring, sealedSecret: Buffer, id: string): Signer | undefined {
  try {
    return createSigner(decrypt(keys, sealedSecret, id));
  } catch {
    return undefined;
  }
}
