import { z } from "zod";

/** The four delivery channels. Order matters nowhere; it is the order the original product documents them in. */
export const CHANNELS = ["sms", "call", "email", "telegram"] as const;
export const Channel = z.enum(CHANNELS, {
  error: (iss) =>
    iss.input === undefined || iss.input === ""
      ? '"channel" parameter must be set'
      : `"channel" must be one of ${CHANNELS.join(", ")}`,
});
export type Channel = z.infer<typeof Channel>;

/** What each channel calls its target, in requests, in limit rules and in limit refusals. */
export interface ChannelInfo {
  /** The request parameter naming the target: `phone`, `email` or `chat_id`. */
  readonly targetParam: "phone" | "email" | "chat_id";
  /** The key of the target rules in `POST/GET /limit/{channel}`. */
  readonly targetRules: "phones" | "emails" | "chat_ids";
  /** The `status_code` of a refusal by a target rule. */
  readonly limitCode: "phone_limit" | "email_limit" | "chat_id_limit";
  /** The noun used in human messages. */
  readonly targetNoun: string;
}

export const CHANNEL_INFO: Readonly<Record<Channel, ChannelInfo>> = {
  sms: { targetParam: "phone", targetRules: "phones", limitCode: "phone_limit", targetNoun: "Phone" },
  call: { targetParam: "phone", targetRules: "phones", limitCode: "phone_limit", targetNoun: "Phone" },
  email: { targetParam: "email", targetRules: "emails", limitCode: "email_limit", targetNoun: "Email" },
  telegram: {
    targetParam: "chat_id",
    targetRules: "chat_ids",
    limitCode: "chat_id_limit",
    targetNoun: "Chat id",
  },
};

/** The two things a limit rule can count by. */
export const LIMIT_MEASURES = ["ip", "target"] as const;
export type LimitMeasure = (typeof LIMIT_MEASURES)[number];

/** The placeholder replaced by the code in every text field at delivery time. */
export const PASSWORD_PLACEHOLDER = "{password}";

/**
 * `text` with every `{password}` replaced by `password`, literally: `String.replace` would expand
 * `$&`, `$$` or `` $` `` in a client's password, and the text would no longer show the stored code.
 */
export function substitutePassword(text: string, password: string): string {
  return text.split(PASSWORD_PLACEHOLDER).join(password);
}
