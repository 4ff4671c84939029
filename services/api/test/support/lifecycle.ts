import type { WebhookMessage } from "@otp/contracts";
import type { TestApi } from "./harness.js";

/** Subscribes the API to `events` (a URL that does not resolve here: accepted, never called by these tests). */
export async function subscribe(api: TestApi, events: string[] = ["otp.*"]): Promise<string> {
  const answer = await api.call("POST", "/webhooks", { url: "https://hooks.example.com/otp", events });
  if (answer.status !== 200) throw new Error(`subscribe: ${JSON.stringify(answer.body)}`);
  return (answer.body.content as { id: string }).id;
}

/** The webhook messages in the outbox, oldest first, optionally of one OTP or one type. */
export async function webhookEvents(
  api: TestApi,
  filter: { otpId?: string; type?: string } = {},
): Promise<WebhookMessage[]> {
  const { rows } = await api.pool.query<{ event: WebhookMessage }>(
    `SELECT event FROM outbox WHERE channel = 'webhook'
       AND ($1::uuid IS NULL OR otp_id = $1) AND ($2::text IS NULL OR event->>'type' = $2)
     ORDER BY created_at, event->'payload'->>'type'`,
    [filter.otpId ?? null, filter.type ?? null],
  );
  return rows.map((r) => r.event);
}

/** The event types of one OTP, in order. */
export const typesOf = async (api: TestApi, otpId: string): Promise<string[]> =>
  (await webhookEvents(api, { otpId })).map((e) => e.type);

/** The relay's pass every hour: webhook rows stay in the outbox for the test to read. */
export const KEEP_OUTBOX = { intervalMs: 3_600_000 } as const;

export interface OtpView {
  verification: {
    status: string;
    reason: string | null;
    attempts_left: number | null;
    expires_in: number | null;
    verified_at: string | null;
  };
  metadata: Record<string, string>;
  test: boolean;
  delivery: { status: string };
}

export async function view(api: TestApi, id: string): Promise<OtpView> {
  const answer = await api.call("GET", `/otp/${id}`);
  if (answer.status !== 200) throw new Error(`GET /otp/${id}: ${JSON.stringify(answer.body)}`);
  return answer.body.content as unknown as OtpView;
}

export async function sendSms(api: TestApi, phone: string, password: string, extra: Record<string, unknown> = {}) {
  const answer = await api.call("POST", "/sms", {
    phone,
    password,
    lifetime: 600,
    message: `Code ${password}`,
    ...extra,
  });
  if (answer.status !== 200) throw new Error(`POST /sms: ${JSON.stringify(answer.body)}`);
  return (answer.body.content as { id: string }).id;
}

export const checkSms = (api: TestApi, phone: string, password: string) =>
  api.call("GET", `/sms/check?phone=${phone}&password=${password}`);

export const checkById = (api: TestApi, id: string, password: string) =>
  api.call("POST", `/otp/${id}/check`, { password });
