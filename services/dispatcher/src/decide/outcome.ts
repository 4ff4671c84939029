import type { DeliveryEvent, DeliveryStatus } from "@otp/contracts";

/** Why a message went to the dead-letter queue (its `x-otp-dead-reason`; docs/delivery.md lists them). */
export type DeadReason =
  | "malformed"
  | "unsupported_version"
  | "otp_not_found"
  | "unsealable"
  | "rejected"
  | "exhausted"
  | "poison";

/** The provider took it (or DUMMY recorded it): the OTP is `delivered`. */
export interface Delivered {
  readonly kind: "delivered";
  readonly event: DeliveryEvent;
  readonly attempt: number;
  /** `dummy` when DUMMY=true made no call. */
  readonly note: string | null;
}

/** The OTP is no longer pending (delivered, failed or expired already): nothing to do. */
export interface Duplicate {
  readonly kind: "duplicate";
  readonly event: DeliveryEvent;
  readonly status: DeliveryStatus;
}

/** A transient failure with attempts and time left: try again after `delayMs`, through a delay queue. */
export interface Retry {
  readonly kind: "retry";
  readonly event: DeliveryEvent;
  readonly attempt: number;
  readonly delayMs: number;
  readonly error: string;
}

/** Never to be delivered: a copy goes to the dead-letter queue, and the OTP (if any) is `failed`. */
export interface Dead {
  readonly kind: "dead";
  readonly reason: DeadReason;
  readonly error: string;
  /** Absent when the message is not a readable event. */
  readonly event?: DeliveryEvent;
  readonly attempted: boolean;
  /** Attempts made in all, this one included. */
  readonly attempts: number;
}

/** The code expired before it could be delivered: the OTP is `expired`, nothing more is sent. */
export interface Expired {
  readonly kind: "expired";
  readonly event: DeliveryEvent;
  readonly attempted: boolean;
  readonly error: string | null;
}

/**
 * The code can no longer be verified — closed (canceled, superseded, used) or dead of its wrong
 * checks — before it was delivered: the delivery is `canceled`, nothing is sent.
 */
export interface Canceled {
  readonly kind: "canceled";
  readonly event: DeliveryEvent;
}

/** What to do with one consumed message: handleEvent decides it, settle carries it out. */
export type Outcome = Delivered | Duplicate | Retry | Dead | Expired | Canceled;
