import { digestPassword } from "@otp/contracts";
import type { Bench } from "../bench.js";
import type { Roles } from "../cpu.js";
import { checkBody, createBody, PhoneSequence, randomPhone } from "../http/bodies.js";
import { type Measurement, measureHttp } from "../load.js";
import { startPeer } from "../peer/start.js";
import { type PeerRound, peerReport } from "../report/peer.js";
import { seedLiveCodes, seedPeerCodes } from "../seed/live-codes.js";
import type { Phase } from "./phase.js";

/** The concurrency of the comparisons (the targets are set at 16 connections). */
export const COMPARE_CONNECTIONS = 16;

/** Repeated right checks draw from these: codes already verified, so a right check writes nothing. */
export const VERIFIED = { base: 77_020_000_000, count: 2_000, verified: true } as const;
const FIRST_BASE = 77_050_000_000;
const WRONG_BASE = 77_060_000_000;
const CREATE_BASE = 77_070_000_000;

/**
 * This service beside the peer (peer/app.ts), in alternation, round after round at 16 connections
 * (docs/performance.md, "The peer"): the peer's create, this service's, the peer's check, this
 * service's right check of a code already verified, then its first right checks (each code once:
 * the verification is recorded) and its wrong checks (each target once: the failure is counted).
 */
export const peerComparison: Phase = {
  name: "peer",
  group: "peer",
  async run(bench) {
    const peer = await startPeer(bench);
    const digest = digestPassword(bench.scratch.keys, "12345");
    // Enough codes for every first and every wrong check of the run, at up to 6,000 checks/s.
    const walked = Math.ceil(bench.options.rounds * (bench.options.seconds + bench.options.warmup) * 6_000);
    bench.log(`peer: seeding ${VERIFIED.count} verified codes (both), ${walked} fresh and ${walked} for wrong checks`);
    await seedLiveCodes(bench.pool, digest, VERIFIED);
    await seedPeerCodes(bench.pool, VERIFIED);
    await seedLiveCodes(bench.pool, digest, { base: FIRST_BASE, count: walked, verified: false });
    await seedLiveCodes(bench.pool, digest, { base: WRONG_BASE, count: walked, verified: false });
    // Settled before the first round: otherwise autovacuum of the fresh rows (and the first reads
    // setting their hint bits) lands in whichever side the first round measures.
    await bench.pool.query("VACUUM ANALYZE otp");
    await bench.pool.query("VACUUM ANALYZE peer_otp");
    const sequences = {
      peerCreate: new PhoneSequence(CREATE_BASE),
      create: new PhoneSequence(CREATE_BASE),
      first: new PhoneSequence(FIRST_BASE),
      wrong: new PhoneSequence(WRONG_BASE),
    };
    const rounds: PeerRound[] = [];
    for (let round = 1; round <= bench.options.rounds; round++) {
      rounds.push(await measureRound(bench, peer.url, sequences, round));
    }
    await peer.stop();
    return peerReport(rounds, { firstWalked: sequences.first.used, walked });
  },
};

async function measureRound(
  bench: Bench,
  peerUrl: string,
  s: Record<"peerCreate" | "create" | "first" | "wrong", PhoneSequence>,
  round: number,
): Promise<PeerRound> {
  const api = bench.services.apiUrl;
  const step = (what: string) => bench.log(`peer round ${round}: ${what}`);
  // Odd rounds measure the peer first, even rounds this service: neither always runs second.
  const pair = async (name: string, onPeer: () => Promise<Measurement>, onApi: () => Promise<Measurement>) => {
    step(`${name}, ${round % 2 === 1 ? "peer then service" : "service then peer"}`);
    if (round % 2 === 1) return { peer: await onPeer(), api: await onApi() };
    const apiFirst = await onApi();
    return { peer: await onPeer(), api: apiFirst };
  };
  const creates = await pair(
    "create",
    () => at16(bench, peerUrl, "POST", "/sms", () => createBody(s.peerCreate.next())),
    () => at16(bench, api, "POST", "/sms", () => createBody(s.create.next())),
  );
  const verified = () => checkBody(randomPhone(VERIFIED.base, VERIFIED.count), "12345");
  const checks = await pair(
    "check, right code, already verified",
    () => at16(bench, peerUrl, "GET", "/sms/check", verified, '{"status":true}'),
    () => at16(bench, api, "GET", "/sms/check", verified, '{"status":true}'),
  );
  step("service check, first right check");
  const first = () => checkBody(s.first.next(), "12345");
  const firstCheck = await at16(bench, api, "GET", "/sms/check", first, '{"status":true}');
  step("service check, wrong code");
  const wrong = () => checkBody(s.wrong.next(), "54321");
  const wrongCheck = await at16(bench, api, "GET", "/sms/check", wrong, '{"status":false}');
  return {
    round,
    peerCreate: creates.peer,
    create: creates.api,
    peerCheck: checks.peer,
    check: checks.api,
    firstCheck,
    wrongCheck,
  };
}

/** One measured run at 16 connections; a check answered otherwise than `expect` counts as failed. */
export function at16(
  bench: Bench,
  url: string,
  method: "GET" | "POST",
  path: string,
  body: () => string,
  expect?: string,
  roles: Roles = bench.roles,
): Promise<Measurement> {
  return measureHttp({
    url,
    method,
    path,
    body,
    connections: COMPARE_CONNECTIONS,
    seconds: bench.options.seconds,
    warmupSeconds: bench.options.warmup,
    roles,
    wal: bench.pool,
    ...(expect === undefined ? {} : { expectBody: expect }),
  });
}
