import { createSigner } from "@otp/contracts";
import type { ProviderRecord } from "./services.js";

/** The path the fault suites' webhook subscription posts to, on the recording provider. */
export const WEBHOOK_PATH = "/webhook";
/** The events every accepted OTP of a fault run must produce (docs/operations.md, "Fault tolerance"). */
export const COUNTED_EVENTS = ["otp.created", "otp.delivered"] as const;

/**
 * What the receiver got, against what every accepted OTP should have produced: one event of each
 * {@link COUNTED_EVENTS} type. A webhook is at least once: the same `webhook-id` received again is a
 * redelivery (counted, allowed); two different ids for one OTP and type would be an event emitted
 * twice (a defect), and a missing one a lost event.
 */
export interface WebhookTally {
  readonly expected: number;
  /** Distinct (OTP, type) pairs answered 2xx. */
  readonly received: number;
  readonly lost: readonly string[];
  readonly emittedTwice: number;
  /** Requests answered 2xx beyond the first of their webhook-id. */
  readonly redelivered: number;
  readonly badSignatures: number;
}

interface EventBody {
  readonly type?: string;
  readonly data?: { readonly otp_id?: string };
}

const ok = (answer: ProviderRecord["answer"]) => typeof answer === "number" && answer >= 200 && answer < 300;

/** Checks one request's Standard Webhooks signature by signing its body again with the same id and time. */
function signatureValid(secret: string, r: ProviderRecord): boolean {
  const id = r.headers["webhook-id"];
  const timestamp = Number(r.headers["webhook-timestamp"]);
  if (!id || !Number.isFinite(timestamp)) return false;
  const expected = createSigner(secret).sign(r.body, { id, at: new Date(timestamp * 1000) })["webhook-signature"];
  return (r.headers["webhook-signature"] ?? "").split(" ").includes(expected);
}

export function tallyWebhooks(
  records: readonly ProviderRecord[],
  otpIds: readonly string[],
  secret: string,
): WebhookTally {
  const hooks = records.filter((r) => r.path === WEBHOOK_PATH);
  const idsByEvent = new Map<string, Set<string>>();
  const okById = new Map<string, number>();
  let badSignatures = 0;
  for (const r of hooks) {
    if (!signatureValid(secret, r)) badSignatures++;
    if (!ok(r.answer)) continue;
    const id = r.headers["webhook-id"] ?? "";
    okById.set(id, (okById.get(id) ?? 0) + 1);
    const body = r.json as EventBody | undefined;
    const key = `${body?.data?.otp_id} ${body?.type}`;
    const ids = idsByEvent.get(key) ?? new Set<string>();
    ids.add(id);
    idsByEvent.set(key, ids);
  }
  const wanted = otpIds.flatMap((id) => COUNTED_EVENTS.map((type) => `${id} ${type}`));
  const lost = wanted.filter((key) => !idsByEvent.has(key));
  let emittedTwice = 0;
  for (const ids of idsByEvent.values()) if (ids.size > 1) emittedTwice++;
  let redelivered = 0;
  for (const n of okById.values()) redelivered += n - 1;
  return {
    expected: wanted.length,
    received: wanted.length - lost.length,
    lost,
    emittedTwice,
    redelivered,
    badSignatures,
  };
}

/** The report's table of webhooks. */
export function formatWebhookTally(t: WebhookTally): string {
  return [
    "### Webhooks",
    "",
    `Events counted: ${COUNTED_EVENTS.join(", ")} for every accepted OTP.`,
    "",
    "| expected | received | lost | emitted twice | redelivered (same webhook-id) | bad signatures |",
    "|--:|--:|--:|--:|--:|--:|",
    `| ${t.expected} | ${t.received} | ${t.lost.length} | ${t.emittedTwice} | ${t.redelivered} | ${t.badSignatures} |`,
    "",
  ].join("\n");
}
