import type { Measurement } from "../load.js";
import { COST_HEADER, costCells, mean } from "./costs.js";
import { int, lat } from "./format.js";
import type { ReportPart } from "./part.js";
import { latencyTarget, ratioTarget, type Target, times } from "./targets.js";

/** One round of the peer comparison, in the order measured. */
export interface PeerRound {
  readonly round: number;
  readonly peerCreate: Measurement;
  readonly create: Measurement;
  readonly peerCheck: Measurement;
  /** Right code, already verified: writes nothing, like the peer's check. */
  readonly check: Measurement;
  /** Right code, each code once: records the verification (`verified_at`). */
  readonly firstCheck: Measurement;
  /** Wrong code, each target once: counts the failure (the code's and the target's). */
  readonly wrongCheck: Measurement;
}

type Kind = "create" | "check" | "firstCheck" | "wrongCheck";

const KINDS: readonly { kind: Kind; name: string; peer: "peerCreate" | "peerCheck" }[] = [
  { kind: "create", name: "`POST /sms`", peer: "peerCreate" },
  { kind: "check", name: "`GET /sms/check`, right code, already verified (no write)", peer: "peerCheck" },
  { kind: "firstCheck", name: "`GET /sms/check`, first right check (writes `verified_at`)", peer: "peerCheck" },
  { kind: "wrongCheck", name: "`GET /sms/check`, wrong code (counts the failure)", peer: "peerCheck" },
];

/** The peer phase's part: every round beside the peer's run of the same round, CPU per request, targets. */
export function peerReport(rounds: readonly PeerRound[], walk: { firstWalked: number; walked: number }): ReportPart {
  if (rounds.length === 0) return { lines: [], targets: [] };
  const lines = [
    "| this service, 16 connections | round | req/s | p50 / p99 ms | peer, same round: req/s | p50 / p99 ms | ÷ peer | errors | failed checks |",
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
  ];
  for (const { kind, name, peer } of KINDS) {
    for (const r of rounds) {
      const m = r[kind];
      const p = r[peer];
      lines.push(
        `| ${name} | ${r.round} | ${int(m.rps)} | ${lat(m)} | ${int(p.rps)} | ${lat(p)} | ${times(m.rps / p.rps)} | ` +
          `${int(m.errors + p.errors)} | ${kind === "create" ? "–" : int(m.mismatches + p.mismatches)} |`,
      );
    }
  }
  lines.push("", notes(rounds, walk), "", ...costTable(rounds));
  return { lines, targets: peerTargets(rounds) };
}

function notes(rounds: readonly PeerRound[], walk: { firstWalked: number; walked: number }): string {
  const check = mean(
    rounds.map((r) => r.check),
    (m) => m.rps,
  );
  const first = mean(
    rounds.map((r) => r.firstCheck),
    (m) => m.rps,
  );
  const wrong = mean(
    rounds.map((r) => r.wrongCheck),
    (m) => m.rps,
  );
  return (
    "The peer: Hono + pg + amqplib as a team would write it in an afternoon (packages/bench/src/peer/) — a create " +
    "locks the target (advisory lock), counts its codes of the last hour, inserts the code in plaintext, commits, " +
    "then publishes with a confirm before answering; a check is one `SELECT` of the newest code, compared in the " +
    "process, and writes nothing. Same pool size as the API, its own table in the same database, its own durable " +
    "queue. Each round: creates (the peer's and this one's), checks (likewise), first checks, wrong checks; odd rounds run " +
    "the peer first, even rounds this service. " +
    `The price of recording a verification: a first right check ran at ${int(first)} req/s against ${int(check)} ` +
    `for a right check of a code already verified (${times(first / check)}), a wrong check at ${int(wrong)} ` +
    `(${times(wrong / check)}): each commits a write, so each waits for a WAL flush. ` +
    `${int(walk.firstWalked)} first checks walked ${int(walk.walked)} seeded codes` +
    `${walk.firstWalked > walk.walked ? " — more than were seeded: the rest failed" : ""}.`
  );
}

function costTable(rounds: readonly PeerRound[]): string[] {
  const of = (key: keyof Omit<PeerRound, "round">) => rounds.map((r) => r[key]);
  return [
    "CPU milliseconds per request, mean of the rounds (cores used during the run × 1000 ÷ req/s), and the WAL the server wrote per request (all databases: on a shared machine, others' writes too): what docs/capacity.md builds on.",
    "",
    ...COST_HEADER,
    `| peer create | peer | ${costCells(of("peerCreate"), "peer")} |`,
    `| \`POST /sms\` | api | ${costCells(of("create"), "api")} |`,
    `| peer check | peer | ${costCells(of("peerCheck"), "peer")} |`,
    `| \`GET /sms/check\`, already verified | api | ${costCells(of("check"), "api")} |`,
    `| \`GET /sms/check\`, first right check | api | ${costCells(of("firstCheck"), "api")} |`,
    `| \`GET /sms/check\`, wrong code | api | ${costCells(of("wrongCheck"), "api")} |`,
  ];
}

/** Issue 14's targets against the peer: the mean rate of all rounds against the peer's mean. */
export function peerTargets(rounds: readonly PeerRound[]): Target[] {
  const rate = (key: Kind | "peerCreate" | "peerCheck") =>
    mean(
      rounds.map((r) => r[key]),
      (m) => m.rps,
    );
  const worstP99 = (key: Kind) => Math.max(...rounds.map((r) => r[key].p99));
  return [
    ratioTarget("`POST /sms` ≥ 1.5× the peer's create, 16 connections", rate("create"), rate("peerCreate"), 1.5),
    ratioTarget("`GET /sms/check` ≥ 0.7× the peer's check, 16 connections", rate("check"), rate("peerCheck"), 0.7),
    latencyTarget("`POST /sms` p99 < 50 ms at 16 connections (worst round, peer phase)", worstP99("create"), 50),
    latencyTarget("`GET /sms/check` p99 < 50 ms at 16 connections (worst round, peer phase)", worstP99("check"), 50),
  ];
}
