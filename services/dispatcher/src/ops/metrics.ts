import { Counter, collectDefaultMetrics, Gauge, Histogram, type Registry } from "prom-client";

/**
 * The dispatcher's Prometheus metrics, registered on a registry the caller owns (one per
 * dispatcher, so instances in one test process do not share state), built like the API's.
 */
export function createMetrics(registry: Registry, options: { processMetrics?: boolean } = {}) {
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    deliveries: new Counter({
      name: "deliveries_total",
      help: "Delivery events and webhooks handled, by channel (an OTP channel or webhook) and outcome (delivered, dummy, duplicate, retry, failed, expired, canceled; webhooks: dropped)",
      labelNames: ["channel", "outcome"] as const,
      registers,
    }),
    attemptDuration: new Histogram({
      name: "delivery_attempt_duration_seconds",
      help: "Duration of one delivery attempt (the HTTP call to the Queue, the provider or a webhook receiver)",
      labelNames: ["channel"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    retries: new Counter({
      name: "delivery_retries_total",
      help: "Retries scheduled through a delay queue",
      labelNames: ["channel"] as const,
      registers,
    }),
    deadLetters: new Counter({
      name: "dead_letters_total",
      help: "Events moved to the dead-letter queue, by reason",
      labelNames: ["channel", "reason"] as const,
      registers,
    }),
    inFlight: new Gauge({
      name: "deliveries_in_flight",
      help: "Messages being handled right now (bounded by DISPATCHER_PREFETCH per channel)",
      labelNames: ["channel"] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
