import { fileURLToPath } from "node:url";
import { topology } from "@otp/broker";
import { deleteTestTopology } from "@otp/broker/testing";
import { runNode, startNode } from "@otp/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DISPATCHER_DIR } from "./support/child.js";
import { useHarness } from "./support/harness.js";

const h = useHarness("dlq");
const CLI = fileURLToPath(new URL("../src/dlq/cli.ts", import.meta.url));

/** Runs `dlq <args>` as the operator would (pnpm --filter dispatcher dlq …), on the sources. */
function dlq(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return dlqWith({}, ...args);
}

function dlqWith(
  env: Record<string, string>,
  ...args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runNode({ name: "dlq", entry: CLI, args, cwd: DISPATCHER_DIR, env: h.env(env) });
}

// A prefix nothing is declared under, as with a mistyped RABBITMQ_PREFIX.
const typo = `${h.broker.prefix}.typo`;

beforeAll(async () => {
  await h.start({ OTP_DELIVERY_MODE: "direct" });
});

// Only if the list declared something after all; so that a failure leaves nothing behind.
afterAll(() => deleteTestTopology(h.broker.url, typo));

/** Resolves whether `name` exists, asking the broker the way a client can (a passive declare). */
async function exists(check: "checkQueue" | "checkExchange", name: string): Promise<boolean> {
  const ch = await (await h.amqp()).createChannel();
  ch.on("error", () => {}); // a missing name closes the channel; the rejected check says it
  try {
    await ch[check](name);
    await ch.close();
    return true;
  } catch {
    return false;
  }
}

describe("dlq list / replay", () => {
  it("lists dead letters without their content, replays one or all back to work with a fresh attempt counter", async () => {
    h.provider.addRule({ path: "/smsvc", status: 422, body: { status: false, message: "blacklisted" } });
    const a = await h.send({ channel: "sms", target: "77010000011", password: "55555", message: "code {password}" });
    const b = await h.send({ channel: "sms", target: "77010000012", password: "66666", message: "code {password}" });
    const soon = await h.send({ channel: "sms", target: "77010000013", message: "code {password}", lifetimeMs: 1_500 });
    for (const e of [a, b, soon]) await expect.poll(() => h.status(e.otp_id), { timeout: 10_000 }).toBe("failed");
    await expect.poll(() => h.messageCount(h.t.deadQueue), { timeout: 10_000 }).toBe(3);

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
    // Listing takes nothing away (what it got comes back once its connection closes: polled).
    await expect.poll(() => h.messageCount(h.t.deadQueue)).toBe(3);

    h.provider.reset();
    const one = await dlq("replay", "--id", a.id);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain(`replayed ${a.id}`);
    await expect.poll(() => h.status(a.otp_id), { timeout: 10_000 }).toBe("delivered");
    expect(await h.row(a.otp_id)).toMatchObject({ attempts: 2 });
    expect(await h.status(b.otp_id)).toBe("failed");

    await new Promise((r) => setTimeout(r, Date.parse(soon.expire_at) - Date.now() + 50));
    const all = await dlq("replay", "--all");
    expect(all.code).toBe(0);
    expect(all.stdout).toContain(`replayed ${b.id}`);
    expect(all.stdout).toMatch(new RegExp(`skipped\\s+${soon.id}: the code expired`));
    await expect.poll(() => h.status(b.otp_id), { timeout: 10_000 }).toBe("delivered");
    expect(await h.status(soon.otp_id)).toBe("failed");
    // The expired one stays for inspection; nothing was sent for it.
    await expect.poll(() => h.messageCount(h.t.deadQueue)).toBe(1);
    expect(
      h.provider
        .requests()
        .map((r) => r.headers["idempotency-key"])
        .sort(),
    ).toEqual([a.id, b.id].sort());
  });

  it("lists nothing and declares nothing under a prefix nothing is declared under", async () => {
    const t = topology(typo);
    const r = await dlqWith({ RABBITMQ_PREFIX: typo }, "list");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`0 dead letter(s) in ${t.deadQueue}`);
    expect(await exists("checkQueue", t.deadQueue)).toBe(false);
    expect(await exists("checkQueue", t.workQueue("sms"))).toBe(false);
    expect(await exists("checkExchange", t.exchange)).toBe(false);
    // The same check sees the topology of this file's own prefix, which the harness declared.
    expect(await exists("checkQueue", h.t.deadQueue)).toBe(true);
  });

  it("shows why it cannot connect while it is still trying, not only the final timeout", async () => {
    const url = new URL(h.broker.url);
    url.password = "not-the-password";
    const child = startNode({
      name: "dlq",
      entry: CLI,
      args: ["list"],
      cwd: DISPATCHER_DIR,
      env: h.env({ RABBITMQ_URL: url.toString() }),
    });
    try {
      // Well within the CLI's 10 s wait for a connection.
      await child.waitForOutput("ACCESS_REFUSED", { timeoutMs: 8_000 });
      expect(child.output("stderr")).toContain("ACCESS_REFUSED");
      expect(child.output("stderr")).not.toContain("no connection to RabbitMQ within");
    } finally {
      await child.kill();
    }
  });

  it("refuses a replay without --id or --all", async () => {
    const r = await dlq("replay");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("replay needs --id");
  });
});
