import type { PublishOptions } from "@otp/broker";

/** The slice of `ConfirmPublisher` the outbox uses; tests substitute a failing one. */
export interface EventPublisher {
  readonly isReady: boolean;
  publish(exchange: string, routingKey: string, content: Buffer, options: PublishOptions): Promise<void>;
}
