import { Counter, collectDefaultMetrics, Gauge, Histogram, type Registry } from "prom-client";

/** The API's Prometheus metrics, registered on a registry the caller owns (one per app in tests). */
export function createMetrics(registry: Registry, options: { processMetrics?: boolean } = {}) {
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  let backlogSource: (() => Promise<number>) | undefined;
  return {
    registry,
    httpRequests: new Counter({
      name: "http_requests_total",
      help: "HTTP requests answered, by route pattern, method and status.",
      labelNames: ["route", "method", "status"] as const,
      registers,
    }),
    httpDuration: new Histogram({
      name: "http_request_duration_seconds",
      help: "Time from receiving a request to answering it.",
      labelNames: ["route", "method"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    otpCreated: new Counter({
      name: "otp_created_total",
      help: "OTPs accepted, by channel.",
      labelNames: ["channel"] as const,
      registers,
    }),
    otpTestCreated: new Counter({
      name: "otp_test_created_total",
      help: "OTPs accepted for test targets (docs/test-targets.md), by channel: never sent, not in otp_created_total.",
      labelNames: ["channel"] as const,
      registers,
    }),
    otpRefused: new Counter({
      name: "otp_refused_total",
      help: "OTPs refused by a limit, by channel and status_code.",
      labelNames: ["channel", "reason"] as const,
      registers,
    }),
    otpChecked: new Counter({
      name: "otp_checked_total",
      help: "Checks answered, by channel and outcome (match, mismatch, attempts_exceeded, check_throttled).",
      labelNames: ["channel", "outcome"] as const,
      registers,
    }),
    otpVerified: new Counter({
      name: "otp_verified_total",
      help: "Codes verified (their first right check, channel or by id), by channel.",
      labelNames: ["channel"] as const,
      registers,
    }),
    timeToVerify: new Histogram({
      name: "otp_time_to_verify_seconds",
      help: "Time from a code's creation to its first right check, by channel.",
      labelNames: ["channel"] as const,
      buckets: [5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1800],
      registers,
    }),
    policyDecisions: new Counter({
      name: "otp_policy_decisions_total",
      help:
        "Creates judged by a destination policy in monitor or enforce mode, by channel, the rule that decided " +
        "(none when no rule objected) and the decision (allow, block, would_block: monitor mode's block).",
      labelNames: ["channel", "rule", "decision"] as const,
      registers,
    }),
    presendHook: new Counter({
      name: "otp_presend_hook_total",
      help: "Calls of the pre-send hook, by channel and result (allow, deny, timeout, error, invalid).",
      labelNames: ["channel", "result"] as const,
      registers,
    }),
    lookupThrottled: new Counter({
      name: "otp_lookup_throttled_total",
      help: "GET /target and GET /password lookups refused because their misses ran out (lookup: target, password).",
      labelNames: ["lookup"] as const,
      registers,
    }),
    outboxBacklog: new Gauge({
      name: "otp_outbox_backlog",
      help: "Delivery events written but not yet confirmed by RabbitMQ (counted at scrape time).",
      registers,
      async collect() {
        if (!backlogSource) return;
        try {
          this.set(await backlogSource());
        } catch {
          // The database is down: the scrape still answers, with the last value.
        }
      },
    }),
    /** Where the backlog gauge reads its value at scrape time. */
    setBacklogSource(source: () => Promise<number>): void {
      backlogSource = source;
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
