import { type Measurement, measureHttp } from "../load.js";
import { int, lat } from "../report/format.js";
import type { Phase } from "./phase.js";

/**
 * What the destination policy costs a create (docs/performance.md, "What the destination policy
 * costs"): `POST /sms` at each concurrency with the policy off, then monitoring and enforcing the
 * rules whose keys are per prefix, then adding a country limit and a budget (one key for a whole
 * country, and for the whole channel), then off again. Every create is accepted (the rates are far
 * above what a run sends), each to a random KZ mobile number, so the prefixes spread as real
 * traffic does.
 */

/** Keys of their own per prefix: what most of a policy is. */
const PER_PREFIX = {
  countries: { allow: ["KZ", "UZ"], deny: [] },
  prefixes: { deny: ["88216"] },
  prefix_limits: [{ digits: 6, minutes: 60, rate: 1_000_000 }],
  conversion_guard: { prefix_digits: 6, window_minutes: 60, min_sent: 20, min_conversion: 0.2, lag_seconds: 180 },
  country_limits: [],
  budget: [],
};
const COUNTRY = { country_limits: [{ country: "*", minutes: 60, rate: 1_000_000 }] };
const BUDGET = { budget: [{ minutes: 1440, rate: 1_000_000 }] };
const CONFIGURATIONS: readonly { name: string; policy: Record<string, unknown> }[] = [
  { name: "off", policy: { mode: "off" } },
  { name: "monitor: lists, prefix limit, guard", policy: { ...PER_PREFIX, mode: "monitor" } },
  { name: "enforce: lists, prefix limit, guard", policy: { ...PER_PREFIX, mode: "enforce" } },
  { name: "enforce: the same and a country limit", policy: { ...PER_PREFIX, ...COUNTRY, mode: "enforce" } },
  {
    name: "enforce: the same, a country limit and a budget",
    policy: { ...PER_PREFIX, ...COUNTRY, ...BUDGET, mode: "enforce" },
  },
  // Again at the end: how much the machine moved during the phase.
  { name: "off, again", policy: { mode: "off" } },
];

/** The valid KZ mobile blocks `770x`: 7,000,000 numbers, 700 prefixes of 6 digits. */
const BLOCKS = ["7700", "7701", "7702", "7705", "7706", "7707", "7708"];
const body = () =>
  JSON.stringify({
    phone: `${BLOCKS[Math.floor(Math.random() * BLOCKS.length)]}${String(Math.floor(Math.random() * 1e7)).padStart(7, "0")}`,
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
