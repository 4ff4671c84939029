import { WEBHOOK_MESSAGE_VERSION, WebhookMessage } from "@otp/contracts";
import type { Dead, DeadReason } from "../decide/outcome.js";
import type { WorkMessage } from "../message/work-message.js";

/** A webhook message as read: the checked message, and its payload exactly as published. */
export interface ParsedWebhook {
  readonly message: WebhookMessage;
  /**
   * The body to send: the published payload serialised once, in its own key order (not the
   * schema's), so every retry of one message sends the same bytes.
   */
  readonly body: string;
}

/** The message's webhook, or why it is not one this dispatcher can send (never tried again). */
export function parseWebhookMessage(work: WorkMessage): ParsedWebhook | { dead: Dead } {
  const dead = (reason: DeadReason, error: string) => ({
    dead: { kind: "dead", reason, error, attempted: false, attempts: 0 } as const,
  });
  let raw: unknown;
  try {
    raw = JSON.parse(work.content.toString("utf8"));
  } catch {
    return dead("malformed", "the message is not JSON");
  }
  const version = (raw as { v?: unknown } | null)?.v;
  if (typeof raw === "object" && raw !== null && version !== WEBHOOK_MESSAGE_VERSION) {
    return dead(
      "unsupported_version",
      `webhook message version ${JSON.stringify(version ?? null)} is not ${WEBHOOK_MESSAGE_VERSION}`,
    );
  }
  const result = WebhookMessage.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    return dead(
      "malformed",
      `not a webhook message: ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`,
    );
  }
  return { message: result.data, body: JSON.stringify((raw as { payload: unknown }).payload) };
}
