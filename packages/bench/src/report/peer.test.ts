import { describe, expect, it } from "vitest";
import type { Measurement } from "../load.js";
import { oldRowsReport } from "./old-rows.js";
import { type PeerRound, peerReport } from "./peer.js";

const m = (rps: number, extra: Partial<Measurement> = {}): Measurement => ({
  rps,
  p50: 5,
  p99: 20,
  requests: rps * 4,
  errors: 0,
  mismatches: 0,
  cores: { api: rps / 1000, peer: rps / 2000, postgres: 0.5, machine: 1.5 },
  ...extra,
});

const round = (n: number, create: number, check: number): PeerRound => ({
  round: n,
  peerCreate: m(1000),
  create: m(create),
  peerCheck: m(2000),
  check: m(check),
  firstCheck: m(check / 2),
  wrongCheck: m(check / 3, { mismatches: 2 }),
});

describe("the peer comparison's report", () => {
  it("holds the mean of the rounds against the peer's mean", () => {
    // Creates 1.4× and 1.6× the peer: 1.5× on the mean, met; checks 0.6× and 0.7×: 0.65×, not met.
    const { targets } = peerReport([round(1, 1400, 1200), round(2, 1600, 1400)], { firstWalked: 10, walked: 100 });
    expect(targets.map((t) => [t.result, t.met])).toEqual([
      ["1.50×", true],
      ["0.65×", false],
      ["20.0 ms", true],
      ["20.0 ms", true],
    ]);
  });

  it("fails the latency target on the worst round", () => {
    const slow = { ...round(2, 1600, 1400), create: m(1600, { p99: 75 }) };
    const { targets } = peerReport([round(1, 1600, 1400), slow], { firstWalked: 10, walked: 100 });
    expect(targets[2]).toMatchObject({ result: "75.0 ms", met: false });
  });

  it("shows each round beside the peer's, failed checks, the price of a first right check and CPU per request", () => {
    const { lines } = peerReport([round(1, 1500, 1400)], { firstWalked: 10, walked: 100 });
    const text = lines.join("\n");
    expect(text).toContain("| `POST /sms` | 1 | 1,500 | 5.00 / 20.0 | 1,000 | 5.00 / 20.0 | 1.50× | 0 | – |");
    expect(text).toContain(
      "| `GET /sms/check`, wrong code (counts the failure) | 1 | 467 | 5.00 / 20.0 | 2,000 | 5.00 / 20.0 | 0.23× | 0 | 2 |",
    );
    expect(text).toContain("a first right check ran at 700 req/s against 1,400");
    // api 1.5 cores at 1,500 req/s: 1.00 ms; PostgreSQL 0.5 cores: 0.33 ms.
    expect(text).toContain("| `POST /sms` | api | 1.00 | 0.33 | 0.00 | 0.00 | 1.00 | – |");
    expect(text).not.toContain("more than were seeded");
    expect(peerReport([round(1, 1, 1)], { firstWalked: 101, walked: 100 }).lines.join("\n")).toContain(
      "more than were seeded",
    );
  });
});

describe("the old rows' report", () => {
  it("holds the full table's mean rate against the empty one's at 0.9×", () => {
    const part = oldRowsReport(
      [
        { round: 1, emptyCreate: m(1000), fullCreate: m(850), emptyCheck: m(2000), fullCheck: m(1900) },
        { round: 2, emptyCreate: m(1000), fullCreate: m(900), emptyCheck: m(2000), fullCheck: m(1800) },
      ],
      { rows: 5_000_000, seedSeconds: 95.2, heapBytes: 1000 * 2 ** 20, indexBytes: 1200 * 2 ** 20, rowBytes: 199.6 },
    );
    expect(part.targets.map((t) => [t.goal, t.result, t.met])).toEqual([
      ["`POST /sms` with 5 M old rows ≥ 0.9× an empty table", "0.88×", false],
      ["`GET /sms/check` with 5 M old rows ≥ 0.9× an empty table", "0.93×", true],
    ]);
    const text = part.lines.join("\n");
    expect(text).toContain("took 95 s");
    expect(text).toContain("461 bytes per row in all, 200 of them the row itself");
  });
});
