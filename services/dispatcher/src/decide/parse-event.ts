import { DELIVERY_EVENT_VERSION, DeliveryEvent } from "@otp/contracts";
import type { WorkMessage } from "../message/work-message.js";
import type { Dead, DeadReason } from "./outcome.js";

/** The message's event, or why it is not one this dispatcher can handle (never tried again). */
export function parseEvent(message: WorkMessage): { event: DeliveryEvent } | { dead: Dead } {
  const dead = (reason: DeadReason, error: string) => ({
    dead: { kind: "dead", reason, error, attempted: false, attempts: 0 } as const,
  });
  let raw: unknown;
  try {
    raw = JSON.parse(message.content.toString("utf8"));
  } catch {
    return dead("malformed", "the message is not JSON");
  }
  const version = (raw as { v?: unknown } | null)?.v;
  if (typeof raw === "object" && raw !== null && version !== DELIVERY_EVENT_VERSION) {
    return dead(
      "unsupported_version",
      `event version ${JSON.stringify(version ?? null)} is not ${DELIVERY_EVENT_VERSION}`,
    );
  }
  const result = DeliveryEvent.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    return dead(
      "malformed",
      `not a delivery event: ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`,
    );
  }
  if (result.data.channel !== message.queueChannel) {
    return dead("malformed", `a ${result.data.channel} event on the ${message.queueChannel} queue`);
  }
  return { event: result.data };
}
