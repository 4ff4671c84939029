/**
 * How long and how hard the fault suite runs. `FAULTS_PROFILE=full` (the default of
 * `pnpm test:faults`) takes about three minutes; `ci` keeps every fault but shortens every stretch,
 * for about a minute.
 */
export interface Profile {
  readonly name: "full" | "ci";
  /** OTP creations per second, steady through the whole run. */
  readonly rate: number;
  /** Traffic before the first fault. */
  readonly warmupMs: number;
  /** Quiet time after each fault before the next one. */
  readonly recoveryMs: number;
  /** Deliveries held open at the provider before the dispatcher is killed (at least this many, or what came within 5 s). */
  readonly minHeld: number;
  readonly brokerDownMs: number;
  /** How long the provider fails a share of its calls. */
  readonly providerFaultMs: number;
  readonly pgDownMs: number;
  /** Bound on the wait for every accepted OTP to be delivered once the traffic stops. */
  readonly settleTimeoutMs: number;
}

const PROFILES: Record<Profile["name"], Profile> = {
  full: {
    name: "full",
    rate: 50,
    warmupMs: 10_000,
    recoveryMs: 12_000,
    minHeld: 20,
    brokerDownMs: 6_000,
    providerFaultMs: 20_000,
    pgDownMs: 6_000,
    settleTimeoutMs: 90_000,
  },
  ci: {
    name: "ci",
    rate: 30,
    warmupMs: 3_000,
    recoveryMs: 4_000,
    minHeld: 8,
    brokerDownMs: 3_000,
    providerFaultMs: 6_000,
    pgDownMs: 3_000,
    settleTimeoutMs: 45_000,
  },
};

export function profileFromEnv(): Profile {
  const name = (process.env.FAULTS_PROFILE ?? "full").trim().toLowerCase();
  const profile = PROFILES[name as Profile["name"]];
  if (!profile) throw new Error(`FAULTS_PROFILE must be "full" or "ci", got "${name}"`);
  return profile;
}
