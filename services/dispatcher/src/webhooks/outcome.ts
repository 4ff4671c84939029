import type { WebhookMessage } from "@otp/contracts";
import type { Dead } from "../decide/outcome.js";

/** What to do with one webhook message: handleWebhook decides it, settleWebhook carries it out. */
export type WebhookOutcome =
  /** The receiver answered 2xx. */
  | { readonly kind: "delivered"; readonly message: WebhookMessage; readonly attempt: number }
  /** Its subscription was deleted: acked, not sent, counted (`dropped`). */
  | { readonly kind: "dropped"; readonly message: WebhookMessage }
  /** A failure with time left in its window: the same message again after `delayMs`. */
  | {
      readonly kind: "retry";
      readonly message: WebhookMessage;
      readonly attempt: number;
      readonly delayMs: number;
      readonly error: string;
      /** When its first attempt was made (ms; unknown on an older version's retry): FIRST_TRIED_HEADER. */
      readonly firstTriedAt: number | undefined;
    }
  /**
   * Not tried: its subscription's slots were all taken (slots.ts). The same message, the same
   * attempt, again after `delayMs`, which grows with `deferrals` (this one included) in a row.
   */
  | {
      readonly kind: "deferred";
      readonly message: WebhookMessage;
      readonly attempt: number;
      readonly deferrals: number;
      readonly delayMs: number;
    }
  /**
   * Never to be sent (unreadable, refused address) or out of time: to the dead-letter queue. With
   * the webhook when the message was readable, for the log line's ids.
   */
  | (Dead & { readonly message?: WebhookMessage });
