import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "../../services/api/test/support/harness.js";
import { COUNTRIES, random, randomNumber, sequential } from "./numbers.js";

/**
 * The pumping simulation (`pnpm test:pumping`; `pnpm test:pumping:ci`, shorter, in CI): legitimate
 * traffic to random valid numbers of several countries, most of it verified within 30 s, mixed with
 * an attack of sequential numbers in two prefixes that are never verified, sent from many
 * addresses, against two API replicas with the conversion guard enforcing. Time is simulated: the
 * replicas share a clock that moves one second per tick, so an hour takes a minute or two; every
 * create and every check goes through the API. docs/policy.md shows a run's table.
 */

const PROFILES = {
  ci: { seconds: 600, legitPerSecond: 2, attackStart: 60 },
  full: { seconds: 2400, legitPerSecond: 4, attackStart: 120 },
} as const;
const profile = PROFILES[process.env.PUMPING_PROFILE === "ci" ? "ci" : "full"];
const GUARD = {
  prefix_digits: 6,
  window_minutes: 30,
  min_sent: 20,
  min_conversion: 0.2,
  lag_seconds: 3,
  block_minutes: 5,
  max_block_minutes: 60,
};
const VERIFY_SHARE = 0.8;
const ATTACK_PREFIXES = ["770555", "998935"];
/** Legitimate traffic by country; part of KZ's in three busy prefixes, to show they stay open. */
const COUNTRY_SHARES: readonly [string, number][] = [
  ["KZ", 0.4],
  ["UZ", 0.2],
  ["RU", 0.15],
  ["DE", 0.07],
  ["GB", 0.06],
  ["TR", 0.06],
  ["US", 0.06],
];
const CUMULATIVE_SHARES = COUNTRY_SHARES.map((_, i) => COUNTRY_SHARES.slice(0, i + 1).reduce((a, [, s]) => a + s, 0));
const BUSY = ["770112", "770777", "777123"];

const db = useTestDatabase();
const broker = useTestBroker("pumping");
let replicas: TestApi[] = [];

beforeAll(async () => {
  const first = await startTestApi({ pg: db(), broker, env: { LOG_LEVEL: "warn", PG_POOL_MAX: "12" } });
  const second = await startTestApi({
    pg: db(),
    broker,
    clock: first.clock,
    env: { LOG_LEVEL: "warn", PG_POOL_MAX: "12" },
  });
  replicas = [first, second];
  await first.call("POST", "/policy/sms", { mode: "enforce", conversion_guard: GUARD });
  await second.call("POST", "/policy/sms", {});
});
afterAll(async () => {
  for (const api of replicas) await api.close();
});

interface Tally {
  requests: number;
  accepted: number;
  refused: number;
  verified: number;
  firstRefusal?: number;
}
const tally = (): Tally => ({ requests: 0, accepted: 0, refused: 0, verified: 0 });

describe("SMS pumping against the conversion guard", () => {
  it("stops each attacked prefix within min_sent + 5 sends and refuses under 1 % of legitimate requests", async () => {
    const rnd = random(12);
    const legit = tally();
    const attack = Object.fromEntries(ATTACK_PREFIXES.map((p) => [p, tally()])) as Record<string, Tally>;
    const attackNumbers = ATTACK_PREFIXES.map((p) => sequential(p, p.startsWith("7") ? 11 : 12));
    const legitReasons = new Map<string, number>();
    const checks = new Map<number, { phone: string; password: string }[]>();
    const clock = replicas[0]?.clock;
    if (!clock) throw new Error("no API");
    let n = 0;
    const api = () => replicas[n++ % replicas.length] as TestApi;
    const ip = () =>
      `${Math.floor(rnd() * 200) + 11}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 254) + 1}`;
    const create = (phone: string, password: string) =>
      api().call("POST", "/sms", { phone, password, lifetime: 600, message: "Code {password}", ip: ip() });

    const legitNumber = () => {
      const pick = rnd();
      const country = COUNTRY_SHARES.find((_, i) => pick < (CUMULATIVE_SHARES[i] ?? 1))?.[0] ?? "KZ";
      if (country === "KZ" && rnd() < 0.3)
        return `${BUSY[Math.floor(rnd() * BUSY.length)]}${String(Math.floor(rnd() * 1e5)).padStart(5, "0")}`;
      return randomNumber(rnd, country);
    };

    for (let second = 0; second < profile.seconds; second++) {
      const work: Promise<void>[] = [];
      // Legitimate users: a Poisson-ish number per second, most of whom type their code in 3 to 30 s.
      const arrivals = Math.floor(profile.legitPerSecond * 2 * rnd() + 0.5);
      for (let i = 0; i < arrivals; i++) {
        const phone = legitNumber();
        const password = String(100000 + Math.floor(rnd() * 900000));
        const willVerify = rnd() < VERIFY_SHARE;
        const at = second + 3 + Math.floor(rnd() * 28);
        legit.requests++;
        work.push(
          create(phone, password).then((answer) => {
            if (answer.status !== 200) {
              legit.refused++;
              const reason = `${answer.body.status_code}: ${answer.body.message}`;
              legitReasons.set(reason, (legitReasons.get(reason) ?? 0) + 1);
              return;
            }
            legit.accepted++;
            if (willVerify) checks.set(at, [...(checks.get(at) ?? []), { phone, password }]);
          }),
        );
      }
      for (const { phone, password } of checks.get(second) ?? []) {
        work.push(
          api()
            .call("GET", `/sms/check?phone=${phone}&password=${password}`)
            .then((answer) => {
              if (answer.body.status === true) legit.verified++;
            }),
        );
      }
      checks.delete(second);
      // The attack: one sequential number per prefix per second, never verified.
      if (second >= profile.attackStart) {
        ATTACK_PREFIXES.forEach((prefix, i) => {
          const t = attack[prefix] as Tally;
          const phone = attackNumbers[i]?.next().value as string;
          t.requests++;
          work.push(
            create(phone, "0000").then((answer) => {
              if (answer.status === 200) return void t.accepted++;
              t.refused++;
              t.firstRefusal ??= second - profile.attackStart;
            }),
          );
        });
      }
      await Promise.all(work);
      clock.advance(1000);
    }

    const blocks = (await replicas[0]?.call("GET", "/policy/sms/blocks"))?.body.content as { blocks: unknown[] };
    const refusedShare = legit.refused / legit.requests;
    const verifiedShare = legit.verified / legit.accepted;
    const rows = [
      "| traffic | requests | accepted | refused | notes |",
      "|---|--:|--:|--:|---|",
      `| legitimate, ${COUNTRIES.length} countries | ${legit.requests} | ${legit.accepted} | ${legit.refused} (${(refusedShare * 100).toFixed(2)} %) | ${(verifiedShare * 100).toFixed(1)} % verified within 30 s |`,
      ...ATTACK_PREFIXES.map((p) => {
        const t = attack[p] as Tally;
        return `| attack on ${p}, sequential, many IPs | ${t.requests} | ${t.accepted} | ${t.refused} | first refusal ${t.firstRefusal ?? "-"} s after the attack began; limit min_sent + 5 = ${GUARD.min_sent + 5} |`;
      }),
    ];
    console.log(
      [
        `pumping simulation (${process.env.PUMPING_PROFILE === "ci" ? "ci" : "full"}): ${profile.seconds} simulated seconds, two replicas, guard ${JSON.stringify(GUARD)}`,
        ...rows,
        `legitimate requests refused, by reason: ${JSON.stringify(Object.fromEntries(legitReasons))}`,
        `suspended at the end: ${JSON.stringify(blocks.blocks)}`,
      ].join("\n"),
    );

    for (const p of ATTACK_PREFIXES) expect((attack[p] as Tally).accepted).toBeLessThanOrEqual(GUARD.min_sent + 5);
    expect(refusedShare).toBeLessThan(0.01);
    expect(verifiedShare).toBeGreaterThanOrEqual(0.7);
    expect(verifiedShare).toBeLessThanOrEqual(0.9);
  });
});
