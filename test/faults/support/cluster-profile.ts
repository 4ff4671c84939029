/**
 * How long and how hard the cluster fault test runs (`pnpm test:cluster`, FAULTS_PROFILE=full by
 * default: about three minutes with the cluster's start; `ci`: every fault, shorter stretches).
 */
export interface ClusterProfile {
  readonly name: "full" | "ci";
  /** OTP creations per second, steady through the whole run. */
  readonly rate: number;
  /** Traffic before the first fault. */
  readonly warmupMs: number;
  /** How long a killed node stays down before it is started again. */
  readonly downMs: number;
  /** Traffic after a node is back (and every queue has all its members again), before the next fault. */
  readonly recoveryMs: number;
  /** Bound on the wait for every accepted OTP to be delivered once the traffic stops. */
  readonly settleTimeoutMs: number;
}

const PROFILES: Record<ClusterProfile["name"], ClusterProfile> = {
  full: { name: "full", rate: 40, warmupMs: 10_000, downMs: 10_000, recoveryMs: 10_000, settleTimeoutMs: 60_000 },
  ci: { name: "ci", rate: 20, warmupMs: 3_000, downMs: 4_000, recoveryMs: 4_000, settleTimeoutMs: 45_000 },
};

export function clusterProfileFromEnv(): ClusterProfile {
  const name = (process.env.FAULTS_PROFILE ?? "full").trim().toLowerCase();
  const profile = PROFILES[name as ClusterProfile["name"]];
  if (!profile) throw new Error(`FAULTS_PROFILE must be "full" or "ci", got "${name}"`);
  return profile;
}
