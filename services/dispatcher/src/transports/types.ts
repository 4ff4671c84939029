import type { Channel, DeliveryContent } from "@otp/contracts";

/** One delivery attempt to make: the event's identity and its opened content. */
export interface DeliveryRequest {
  readonly eventId: string;
  readonly channel: Channel;
  readonly target: string;
  readonly content: DeliveryContent;
}

/**
 * What one attempt came to. `transient` failures are retried later through a delay queue;
 * permanent ones are dead-lettered at once. `error` is short and never holds the code or a text.
 */
export type AttemptResult =
  | { readonly ok: true; readonly status?: number; readonly note?: string }
  | {
      readonly ok: false;
      readonly transient: boolean;
      readonly error: string;
      readonly status?: number;
      /** The provider's Retry-After (429/503), in ms. */
      readonly retryAfterMs?: number;
    };

/** One per delivery mode: queue, direct, dummy. */
export interface Transport {
  readonly mode: "queue" | "direct" | "dummy";
  /**
   * Makes one attempt and says what it came to; every failure of the provider or the network is a
   * result. Rejects when `signal` aborts (shutdown stopped waiting for the attempt); any other
   * rejection is a bug.
   */
  deliver(request: DeliveryRequest, signal: AbortSignal): Promise<AttemptResult>;
}
