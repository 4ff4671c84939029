import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { spawnTs } from "./support/child.js";
import { useHarness } from "./support/harness.js";

const h = useHarness("dlq");
const CLI = fileURLToPath(new URL("../src/dlq-cli.ts", import.meta.url));

/** Runs `dlq <args>` as the operator would (pnpm --filter dispatcher dlq …), on the sources. */
function dlq(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawnTs(CLI, args, h.env());
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (c: Buffer) => {
      stdout += c.toString("utf8");
    });
    child.stderr?.on("data", (c: Buffer) => {
      stderr += c.toString("utf8");
    });
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  await h.start({ OTP_DELIVERY_MODE: "direct" });
});

describe("dlq list / replay", () => {
  it("lists dead letters without their content, replays one or all back to work with a fresh attempt counter", async () => {
    h.provider.addRule({ path: "/smsvc", status: 422, body: { status: false, message: "blacklisted" } });
    const a = await h.send({ channel: "sms", target: "77010000011", password: "55555", message: "code {password}" });
    const b = await h.send({ channel: "sms", target: "77010000012", password: "66666", message: "code {password}" });
    const soon = await h.send({ channel: "sms", target: "77010000013", message: "code {password}", lifetimeMs: 1_500 });
    for (const e of [a, b, soon]) await expect.poll(() => h.status(e.otp_id)).toBe("failed");
    await expect.poll(() => h.messageCount(h.t.deadQueue)).toBe(3);

    const list = await dlq("list");
    expect(list.code).toBe(0);
    const lines = list.stdout.split("\n");
    expect(lines[0]).toMatch(/^ID\s+CHANNEL\s+OTP_ID\s+REASON\s+ATTEMPTS\s+DEAD_LETTERED_AT\s+LAST_ERROR$/);
    for (const e of [a, b]) {
      const line = lines.find((l) => l.startsWith(e.id));
      expect(line).toMatch(
        new RegExp(`^${e.id}\\s+sms\\s+${e.otp_id}\\s+rejected\\s+1\\s+\\d{4}-\\d\\d-\\d\\dT\\S+\\s+HTTP 422: `),
      );
    }
    expect(list.stdout).toContain("3 dead letter(s)");
    expect(list.stdout).not.toContain(a.sealed.slice(0, 20));
    expect(list.stdout).not.toContain("55555");

    const json = JSON.parse((await dlq("list", "--json")).stdout) as { id: string; reason: string }[];
    expect(json.map((l) => l.id).sort()).toEqual([a.id, b.id, soon.id].sort());
    // Listing takes nothing away.
    expect(await h.messageCount(h.t.deadQueue)).toBe(3);

    h.provider.reset();
    const one = await dlq("replay", "--id", a.id);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain(`replayed ${a.id}`);
    await expect.poll(() => h.status(a.otp_id)).toBe("delivered");
    expect(await h.row(a.otp_id)).toMatchObject({ attempts: 2 });
    expect(await h.status(b.otp_id)).toBe("failed");

    await new Promise((r) => setTimeout(r, Date.parse(soon.expire_at) - Date.now() + 50));
    const all = await dlq("replay", "--all");
    expect(all.code).toBe(0);
    expect(all.stdout).toContain(`replayed ${b.id}`);
    expect(all.stdout).toMatch(new RegExp(`skipped\\s+${soon.id}: the code expired`));
    await expect.poll(() => h.status(b.otp_id)).toBe("delivered");
    expect(await h.status(soon.otp_id)).toBe("failed");
    // The expired one stays for inspection; nothing was sent for it.
    expect(await h.messageCount(h.t.deadQueue)).toBe(1);
    expect(
      h.provider
        .requests()
        .map((r) => r.headers["idempotency-key"])
        .sort(),
    ).toEqual([a.id, b.id].sort());
  });

  it("refuses a replay without --id or --all", async () => {
    const r = await dlq("replay");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("replay needs --id");
  });
});
