import type { Config } from "@otp/contracts";
import { directTransport } from "./direct.js";
import { dummyTransport } from "./dummy.js";
import { queueTransport } from "./queue.js";
import type { Transport } from "./types.js";

export type { AttemptResult, DeliveryRequest, Transport } from "./types.js";

/** DUMMY wins over the mode: with DUMMY=true nothing is sent in either mode. */
export function createTransport(delivery: Config["delivery"]): Transport {
  if (delivery.dummy) return dummyTransport();
  if (delivery.mode === "direct") return directTransport({ providers: delivery, timeoutMs: delivery.timeoutMs });
  return queueTransport({ queueUrl: delivery.queueUrl, providers: delivery, timeoutMs: delivery.timeoutMs });
}
