import { describe, expect, it } from "vitest";
import { renderReport } from "./render.js";
import { latencyTarget, rateTarget, ratioTarget, renderTargets } from "./targets.js";

describe("targets", () => {
  it("meets a ratio target at the goal and not below it", () => {
    expect(ratioTarget("create ≥ 1.5× the peer", 1500, 1000, 1.5)).toMatchObject({
      figure: "1,500 req/s",
      baseline: "1,000 req/s",
      result: "1.50×",
      met: true,
    });
    expect(ratioTarget("create ≥ 1.5× the peer", 1499, 1000, 1.5).met).toBe(false);
    // No baseline measured: never met.
    expect(ratioTarget("create ≥ 1.5× the peer", 1500, 0, 1.5).met).toBe(false);
  });

  it("meets a latency target only below the limit, a rate target at it", () => {
    expect(latencyTarget("p99 < 50 ms", 49.9, 50).met).toBe(true);
    expect(latencyTarget("p99 < 50 ms", 50, 50).met).toBe(false);
    expect(rateTarget("≥ 2,000/s", 2000, 2000, "–").met).toBe(true);
    expect(rateTarget("≥ 2,000/s", 1999, 2000, "–").met).toBe(false);
  });

  it("renders one table with a met column and the count met", () => {
    const lines = renderTargets([
      ratioTarget("create ≥ 1.5× the peer", 1600, 1000, 1.5),
      latencyTarget("p99 < 50 ms", 61.2, 50),
    ]);
    expect(lines[0]).toBe("Targets: 1 of 2 met.");
    expect(lines).toContain("| create ≥ 1.5× the peer | 1,600 req/s | 1,000 req/s | 1.60× | **met** |");
    expect(lines).toContain("| p99 < 50 ms | 61.2 ms | – | 61.2 ms | **not met** |");
    expect(renderTargets([])).toEqual([]);
  });

  it("puts every phase's targets in one table after the parts, with the run's duration", () => {
    const machine = {
      cpu: "cpu",
      cores: 2,
      ramGiB: 1,
      node: "v20",
      postgres: "15",
      rabbitmq: "3.10",
      pgbench: "15",
      autocannon: "9",
      kernel: "Linux",
    };
    const report = renderReport({ date: new Date(0), machine, seconds: 4, warmup: 1, elapsedSeconds: 612.4 }, [
      { lines: ["| a |"], targets: [rateTarget("first", 1, 2, "–")] },
      { lines: ["| b |"], targets: [rateTarget("second", 3, 2, "–")] },
    ]);
    expect(report).toContain("`pnpm bench` took 612 s");
    expect(report.indexOf("| a |")).toBeLessThan(report.indexOf("| b |"));
    expect(report.indexOf("| b |")).toBeLessThan(report.indexOf("Targets: 1 of 2 met."));
    expect(report.indexOf("| first |")).toBeLessThan(report.indexOf("| second |"));
  });
});
