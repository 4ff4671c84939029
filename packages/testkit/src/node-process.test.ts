import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { killAll, runNode, startNode } from "./node-process.js";

afterAll(killAll);

const dir = mkdtempSync(join(tmpdir(), "testkit-process-"));
/** A small service: logs JSON lines, writes to stderr, exits 0 on SIGTERM after a moment, 3 on "crash". */
const script = join(dir, "service.mjs");
writeFileSync(
  script,
  `const log = (msg, extra = {}) => process.stdout.write(JSON.stringify({ msg, ...extra }) + "\\n");
if (process.argv[2] === "stubborn") process.on("SIGTERM", () => log("ignoring SIGTERM"));
else process.on("SIGTERM", () => setTimeout(() => { log("stopped"); process.exit(0); }, 50));
log("started", { answer: process.env.ANSWER, home: process.env.HOME ?? null });
process.stderr.write("a warning on stderr\\n");
process.stdout.write("not json\\n");
if (process.argv[2] === "crash") process.exit(3);
setInterval(() => {}, 1000);
`,
);

describe("startNode", () => {
  it("captures both streams, parses JSON log lines, passes only the given variables, stops on SIGTERM", async () => {
    const logFile = join(dir, "service.log");
    const p = startNode({ name: "service", entry: script, env: { ANSWER: "42" }, logFile });
    expect(await p.waitForLog("started")).toMatchObject({ answer: "42", home: null });
    await p.waitForOutput("not json");
    await p.waitForOutput(/^a warning/);
    expect(p.output("stderr")).toBe("a warning on stderr");
    const stopped = await p.stop(5_000);
    expect(stopped).toMatchObject({ code: 0, signal: null });
    expect(stopped.tookMs).toBeGreaterThanOrEqual(40);
    expect(p.logged("stopped")).toHaveLength(1);
    expect(readFileSync(logFile, "utf8")).toMatch(/"msg":"stopped"[\s\S]*\[service exited: code 0 signal null\]\n$/);
  });

  it("kills with SIGKILL what does not stop within the grace time", async () => {
    const p = startNode({ name: "stubborn", entry: script, args: ["stubborn"] });
    await p.waitForLog("started");
    const stopped = await p.stop(200);
    expect(stopped.signal).toBe("SIGKILL");
    expect(p.logged("ignoring SIGTERM")).toHaveLength(1);
  });

  it("a wait fails at once, with the output, when the process exits first", async () => {
    const p = startNode({ name: "crashing", entry: script, args: ["crash"] });
    await expect(p.waitForLog("never", { timeoutMs: 10_000 })).rejects.toThrow(
      /crashing: exited \(3\) before the log line "never"; its last output:\n[\s\S]*a warning on stderr/,
    );
    await expect(p.waitForHttp("http://127.0.0.1:9/", { timeoutMs: 10_000 })).rejects.toThrow(/crashing exited/);
  });

  it("with keepLines 0, only writes the output to its file, and says so when a wait fails", async () => {
    const logFile = join(dir, "quiet.log");
    const p = startNode({ name: "quiet", entry: script, args: ["crash"], logFile, keepLines: 0 });
    await expect(p.waitForHttp("http://127.0.0.1:9/", { timeoutMs: 10_000 })).rejects.toThrow(
      `quiet exited (3); its last output:\n(output not kept; see ${logFile})`,
    );
    expect(readFileSync(logFile, "utf8")).toContain("a warning on stderr");
    expect(() => p.logs()).toThrow(/keepLines 0/);
  });

  it("runs a CLI to its end: exit code, stdout and stderr apart", async () => {
    const r = await runNode({ name: "cli", entry: script, args: ["crash"], env: { ANSWER: "x" } });
    expect(r.code).toBe(3);
    expect(r.stdout.split("\n")).toEqual(['{"msg":"started","answer":"x","home":null}', "not json"]);
    expect(r.stderr).toBe("a warning on stderr");
  });
});
