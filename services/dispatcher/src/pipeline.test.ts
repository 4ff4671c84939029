import { randomUUID } from "node:crypto";
import { type ConfirmPublisher, topology } from "@otp/broker";
import { createLogger, DELIVERY_EVENT_VERSION, deriveKeyring, sealContent } from "@otp/contracts";
import type { ConsumeMessage } from "amqplib";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { MessageContext } from "./consume/consumer.js";
import { RetryPolicy } from "./decide/retry-policy.js";
import { createMetrics } from "./ops/metrics.js";
import { type PipelineDeps, pipelineFor } from "./pipeline.js";
import type { DelayQueues } from "./settle/delay-queues.js";
import type { StatusStore } from "./status/status-store.js";
import type { Transport } from "./transports/index.js";

const keys = deriveKeyring("a secret for the pipeline's unit tests");

function consumed(): ConsumeMessage {
  const id = randomUUID();
  const now = Date.now();
  const event = {
    v: DELIVERY_EVENT_VERSION,
    id,
    otp_id: randomUUID(),
    channel: "sms",
    target: "77010000000",
    created_at: new Date(now).toISOString(),
    expire_at: new Date(now + 60_000).toISOString(),
    sealed: sealContent(keys, { password: "1234", message: "{password}" }, id),
  };
  return { content: Buffer.from(JSON.stringify(event)), properties: { messageId: id, headers: {} } } as ConsumeMessage;
}

function deps(parts: { lookup?: StatusStore["lookup"]; deliver?: Transport["deliver"] }): PipelineDeps {
  const store = {
    lookup: parts.lookup ?? (async () => ({ status: "pending" as const, canceled: false })),
    record: async () => "delivered" as const,
  } as unknown as StatusStore;
  const publisher = { publish: async () => {} } as unknown as ConfirmPublisher;
  return {
    keys,
    store,
    publisher,
    topology: topology("pipeline-unit"),
    delayQueues: {} as DelayQueues,
    metrics: createMetrics(new Registry()),
    log: createLogger("otp-dispatcher", "silent"),
    now: Date.now,
    transport: { mode: "direct", deliver: parts.deliver ?? (async () => ({ ok: true })) },
    policy: new RetryPolicy({ maxAttempts: 3 }),
    deliveryLimit: 20,
  };
}

function context(aborted: { abandon?: boolean; forceStop?: boolean } = {}): MessageContext {
  const signal = (abort = false) => (abort ? AbortSignal.abort(new Error("gone")) : new AbortController().signal);
  return { abandon: signal(aborted.abandon || aborted.forceStop), forceStop: signal(aborted.forceStop) };
}

describe("the pipeline's settlement", () => {
  it("ack once the outcome is settled", async () => {
    expect(await pipelineFor(deps({}), "sms")(consumed(), context())).toBe("ack");
  });

  it("abandon when the status cannot be read before the message's channel closed", async () => {
    const lookup = async () => {
      throw new Error("PostgreSQL is down");
    };
    expect(await pipelineFor(deps({ lookup }), "sms")(consumed(), context({ abandon: true }))).toBe("abandon");
  });

  it("abandon when shutdown cuts the provider call short", async () => {
    const deliver = async () => {
      throw Object.assign(new Error("aborted: the dispatcher is stopping"), { name: "AbortError" });
    };
    expect(await pipelineFor(deps({ deliver }), "sms")(consumed(), context({ forceStop: true }))).toBe("abandon");
  });

  it("a bug is not an abandon: the error reaches the consumer", async () => {
    const deliver = async (): Promise<never> => {
      throw new TypeError("a bug in a transport");
    };
    await expect(pipelineFor(deps({ deliver }), "sms")(consumed(), context())).rejects.toThrow("a bug in a transport");
  });
});
