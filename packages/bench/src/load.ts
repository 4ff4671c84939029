import autocannon from "autocannon";
import type pg from "pg";
import { coresBetween, type Roles, snapshot } from "./cpu.js";

/** One measured run: throughput, latency percentiles (ms, to 0.01 ms) and everything that went wrong. */
export interface Measurement {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly requests: number;
  /** Non-2xx answers, socket errors and timeouts together: must be 0. */
  readonly errors: number;
  /** 2xx answers whose body was not the expected one (a check that did not pass). */
  readonly mismatches: number;
  /** Cores used per process group during the measured run (see cpu.ts). */
  readonly cores: Record<string, number>;
  /** WAL the server wrote during the measured run, all databases (with `LoadSpec.wal`). */
  readonly walBytes?: number;
}

export interface LoadSpec {
  readonly url: string;
  readonly method: "GET" | "POST";
  readonly path: string;
  /** A fresh JSON body for every request (distinct phones, random targets). */
  readonly body: () => string;
  readonly connections: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** When set, a 2xx answer with another body counts as a mismatch. */
  readonly expectBody?: string;
  /** Process groups to account CPU to; this process is the load generator. */
  readonly roles: Roles;
  /** When given, the WAL written during the measured run is read through it (`pg_current_wal_lsn`). */
  readonly wal?: pg.Pool;
}

async function walLsn(pool: pg.Pool | undefined): Promise<string | undefined> {
  if (!pool) return undefined;
  return (await pool.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn")).rows[0]?.lsn;
}

/** Bytes between two WAL positions (`16/B374D848`). */
export function walDistance(from: string, to: string): number {
  const bytes = (lsn: string) => {
    const [high = "0", low = "0"] = lsn.split("/");
    return Number.parseInt(high, 16) * 2 ** 32 + Number.parseInt(low, 16);
  };
  return bytes(to) - bytes(from);
}

/** Exact percentiles from the recorded latencies (autocannon's own histogram has 1 ms resolution). */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

function once(
  spec: LoadSpec,
  seconds: number,
  record: boolean,
): Promise<{ result: autocannon.Result; lat: number[]; mismatches: number }> {
  const lat: number[] = [];
  let mismatches = 0;
  const expected = spec.expectBody;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.url,
        connections: spec.connections,
        duration: seconds,
        // A request that takes 10 s is an error, not a latency sample.
        timeout: 10,
        requests: [
          {
            method: spec.method,
            path: spec.path,
            headers: { "content-type": "application/json" },
            setupRequest: (request) => ({ ...request, body: spec.body() }),
            ...(expected === undefined
              ? {}
              : {
                  onResponse: (status: number, body: string) => {
                    if (status >= 200 && status < 300 && body !== expected) mismatches++;
                  },
                }),
          },
        ],
      },
      (error, result) => (error ? reject(error) : resolve({ result, lat, mismatches })),
    );
    if (record) {
      instance.on("response", (_client, status, _bytes, ms) => {
        if (status >= 200 && status < 300) lat.push(ms);
      });
    }
  });
}

/** A warm-up run (discarded), then the measured run. */
export async function measureHttp(spec: LoadSpec): Promise<Measurement> {
  if (spec.warmupSeconds > 0) await once(spec, spec.warmupSeconds, false);
  const walBefore = await walLsn(spec.wal);
  const before = snapshot(spec.roles);
  const { result, lat, mismatches } = await once(spec, spec.seconds, true);
  const cores = coresBetween(before, snapshot(spec.roles));
  const walAfter = await walLsn(spec.wal);
  const sorted = Float64Array.from(lat).sort();
  const answered = result.requests.total;
  return {
    rps: answered / result.duration,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    requests: answered,
    errors: result.non2xx + result.errors + result.timeouts,
    mismatches,
    cores,
    ...(walBefore && walAfter ? { walBytes: walDistance(walBefore, walAfter) } : {}),
  };
}
