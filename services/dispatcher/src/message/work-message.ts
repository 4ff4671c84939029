import type { DispatchRoute } from "@otp/contracts";
import type { ConsumeMessage } from "amqplib";
import type { Headers } from "./headers.js";

/**
 * One message from a work queue (an OTP channel's or the webhooks'), read once from what amqplib
 * hands the consumer; the decision (handleEvent) and the settling (settle) both take it as it is.
 */
export interface WorkMessage {
  /** The OTP channel (or `webhook`) whose work queue it came from: an event for another channel is malformed. */
  readonly queueChannel: DispatchRoute;
  /** The bytes as published (the event's JSON): retry and dead-letter copies carry them unchanged. */
  readonly content: Buffer;
  /** The AMQP message id: the event id, as the API and the dispatcher's own copies publish it. */
  readonly messageId: string | undefined;
  /** The AMQP headers, `{}` when there are none: the attempt, the broker's delivery count (headers.ts). */
  readonly headers: Headers;
}

export function workMessage(queueChannel: DispatchRoute, message: ConsumeMessage): WorkMessage {
  return {
    queueChannel,
    content: message.content,
    messageId: message.properties.messageId as string | undefined,
    headers: (message.properties.headers as Headers | undefined) ?? {},
  };
}
