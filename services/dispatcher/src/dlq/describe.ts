import { DeliveryEvent, WEBHOOK_ROUTE, WebhookMessage } from "@otp/contracts";
import type { GetMessage } from "amqplib";
import { H } from "../message/headers.js";

/** One message of the dead-letter queue, as an operator sees it: never the sealed content or a payload. */
export interface DeadLetter {
  /** The event id; for a webhook its `webhook-id` (`msg_…`), as its receiver and the logs know it. */
  readonly id: string;
  /** An OTP channel, or `webhook`. */
  readonly channel: string;
  readonly otpId: string | null;
  readonly reason: string;
  readonly attempts: number | null;
  readonly lastError: string | null;
  readonly deadAt: string | null;
  readonly expireAt: string | null;
}

/** A dead letter with what it carries: a delivery event, a webhook, or neither (unreadable). */
export type DescribedLetter = DeadLetter & {
  readonly event: DeliveryEvent | null;
  readonly webhook: WebhookMessage | null;
};

function headerString(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return Buffer.isBuffer(value) ? value.toString("utf8") : String(value);
}

/** The content as a delivery event or a webhook message, whichever it is (the dead letter's queue says which). */
function contentOf(message: GetMessage, channel: string | null): Pick<DescribedLetter, "event" | "webhook"> {
  let raw: unknown;
  try {
    raw = JSON.parse(message.content.toString("utf8"));
  } catch {
    return { event: null, webhook: null };
  }
  if (channel === WEBHOOK_ROUTE) {
    const parsed = WebhookMessage.safeParse(raw);
    return { event: null, webhook: parsed.success ? parsed.data : null };
  }
  const parsed = DeliveryEvent.safeParse(raw);
  return { event: parsed.success ? parsed.data : null, webhook: null };
}

export function describe(message: GetMessage): DescribedLetter {
  const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
  // Messages the broker dead-lettered itself (the work queue's delivery limit) carry only x-death.
  const death = (headers["x-death"] as { reason?: unknown; queue?: unknown }[] | undefined)?.[0];
  const fromWebhookQueue = headerString(death?.queue)?.endsWith(`.${WEBHOOK_ROUTE}`) === true;
  const channelHeader = headerString(headers[H.channel]) ?? (fromWebhookQueue ? WEBHOOK_ROUTE : null);
  const { event, webhook } = contentOf(message, channelHeader);
  const reason = headerString(headers[H.deadReason]) ?? (death ? `broker: ${headerString(death.reason)}` : "unknown");
  const attempts = Number(headers[H.attempts]);
  return {
    id: webhook?.id ?? message.properties.messageId ?? event?.id ?? "(none)",
    channel: channelHeader ?? event?.channel ?? "?",
    otpId: event?.otp_id ?? webhook?.otp_id ?? headerString(headers[H.otpId]),
    reason,
    attempts: Number.isFinite(attempts) && headers[H.attempts] !== undefined ? attempts : null,
    lastError: headerString(headers[H.lastError]),
    deadAt: headerString(headers[H.deadAt]),
    expireAt: event?.expire_at ?? null,
    event,
    webhook,
  };
}
