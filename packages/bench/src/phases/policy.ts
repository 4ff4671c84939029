import { type Measurement, measureHttp } from "../load.js";
import { int, lat } from "../report/format.js";
import type { Phase } from "./phase.js";

/**
 * What the destination policy costs a create (docs/performance.md, "What the destination policy
 * costs"): `POST /sms` at each concurrency with the policy off, then enforcing a starting policy
 * without a budget, then with a budget too (one lock for the whole channel). Every create is
 * accepted (the rates are far above what a run sends), each to a random KZ mobile number, so the
 * prefixes spread as real traffic does.
 */

const STARTING_POLICY = {
  countries: { allow: ["KZ", "UZ"], deny: [] },
  prefixes: { deny: ["88216"] },
  country_limits: [{ country: "*", minutes: 60, rate: 5_000_000 }],
  prefix_limits: [{ digits: 6, minutes: 60, rate: 1_000_000 }],
  conversion_guard: { prefix_digits: 6, window_minutes: 60, min_sent: 20, min_conversion: 0.2, lag_seconds: 180 },
};
const CONFIGURATIONS: readonly { name: string; policy: Record<string, unknown> }[] = [
  { name: "off", policy: { mode: "off", budget: [] } },
  {
    name: "enforce: lists, country and prefix limits, guard",
    policy: { ...STARTING_POLICY, mode: "enforce", budget: [] },
  },
  {
    name: "the same and a channel budget",
    policy: { ...STARTING_POLICY, mode: "enforce", budget: [{ minutes: 1440, rate: 50_000_000 }] },
  },
];

const body = () =>
  JSON.stringify({
    phone: `770${Math.floor(Math.random() * 9)}${String(Math.floor(Math.random() * 1e7)).padStart(7, "0")}`,
    password: "12345",
    lifetime: 3600,
    message: "Your OTP is 12345",
  });

export const policyCost: Phase = {
  name: "destination policy",
  group: "policy",
  async run(bench) {
    const rows: string[] = [];
    for (const connections of bench.options.connections) {
      for (const { name, policy } of CONFIGURATIONS) {
        const answer = await fetch(`${bench.services.apiUrl}/policy/sms`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(policy),
        });
        if (!answer.ok) throw new Error(`POST /policy/sms: ${answer.status} ${await answer.text()}`);
        bench.log(`POST /sms, ${connections} connections, policy ${name}`);
        const m: Measurement = await measureHttp({
          url: bench.services.apiUrl,
          method: "POST",
          path: "/sms",
          body,
          connections,
          seconds: bench.options.seconds,
          warmupSeconds: bench.options.warmup,
          roles: bench.roles,
        });
        rows.push(`| ${name} | ${connections} | ${int(m.rps)} | ${lat(m)} | ${int(m.errors)} |`);
      }
    }
    return {
      lines: ["| `POST /sms`, policy | conns | req/s | p50 / p99 ms | errors |", "|---|--:|--:|--:|--:|", ...rows],
      targets: [],
    };
  },
};
