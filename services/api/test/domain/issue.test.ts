import { DEFAULT_POLICY, decrypt, deriveKeyring, parseConfig, unsealContent } from "@otp/contracts";
import { createPool, createSql, createTables } from "@otp/db";
import { useTestDatabase } from "@otp/db/testing";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createChecker } from "../../src/domain/check.js";
import type { DomainDeps } from "../../src/domain/deps.js";
import { createIssuer, type PendingEvent } from "../../src/domain/issue.js";
import { replaceRules } from "../../src/domain/limits.js";

/** The domain functions without HTTP, over a pool that counts the statements it is sent. */
const db = useTestDatabase();
let pool: pg.Pool;
let statements: string[];
let deps: DomainDeps;
const published: PendingEvent[] = [];

beforeAll(() => {
  pool = createPool(db(), { applicationName: "issue-test", onError: () => {} });
  statements = [];
  const count = <T extends { query: (...a: never[]) => unknown }>(target: T): T =>
    new Proxy(target, {
      get(obj, key, receiver) {
        const value = Reflect.get(obj, key, receiver);
        if (key === "query") {
          return (text: string | { text: string }, ...rest: unknown[]) => {
            statements.push(typeof text === "string" ? text : text.text);
            return (value as (...a: unknown[]) => unknown).call(obj, text, ...rest);
          };
        }
        if (key === "connect") return async () => count(await (value as () => Promise<pg.PoolClient>).call(obj));
        return typeof value === "function" ? value.bind(obj) : value;
      },
    });
  const config = parseConfig({});
  if (!config.ok) throw new Error("config");
  deps = {
    pool: count(pool),
    sql: createSql(createTables("public")),
    keys: deriveKeyring("domain test secret, long enough"),
    clock: () => new Date(),
    otp: config.config.otp,
    targets: config.config.targets,
    guessing: config.config.guessing,
    policies: { get: async () => DEFAULT_POLICY, changed: () => {} },
    presendHook: undefined,
    policyEvents: { decided: () => {}, hookAnswered: () => {} },
  };
});
afterAll(() => pool?.end());

const request = (target: string, password?: string) => ({
  channel: "sms" as const,
  target,
  password,
  codeLength: 6,
  lifetimeSeconds: 60,
  texts: { message: "Code {password}" },
});

describe("issue", () => {
  it("without limit rules: one statement, no transaction, the event handed over after it", async () => {
    const issuer = createIssuer(deps, (p) => published.push(p));
    statements.length = 0;
    const outcome = await issuer.issue(request("70000000001", "1234"));
    expect(outcome.accepted).toBe(true);
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatch(/^SELECT "public"\."otp_issue"\(/);
    expect(published.at(-1)?.event.target).toBe("70000000001");
  });

  it("with rules: locks, counts, inserts in one transaction; a refusal writes nothing and publishes nothing", async () => {
    await replaceRules(deps, "sms", { target: [{ minutes: 10, rate: 1 }] });
    const issuer = createIssuer(deps, (p) => published.push(p));
    expect((await issuer.issue(request("70000000002", "1"))).accepted).toBe(true);
    const before = published.length;
    statements.length = 0;
    const refused = await issuer.issue(request("70000000002", "2"));
    expect(refused).toMatchObject({ accepted: false, refusal: { code: "phone_limit" } });
    expect(published.length).toBe(before);
    // The issuer remembered the rules: straight to BEGIN, rules + locks, count, COMMIT.
    expect(statements.map((s) => s.split(/\s/)[0])).toEqual(["BEGIN", "WITH", "SELECT", "COMMIT"]);
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM otp WHERE target = '70000000002'");
    expect(rows[0].n).toBe(1);
    await replaceRules(deps, "sms", { target: [] });
  });

  it("a generated code is digested and encrypted like a given one, and checks", async () => {
    const issuer = createIssuer(deps, (p) => published.push(p));
    const outcome = await issuer.issue(request("70000000003"));
    if (!outcome.accepted || outcome.test) throw new Error("refused");
    const { rows } = await pool.query<{ id: string; generated: boolean; password_cipher: Buffer }>(
      "SELECT id, generated, password_cipher FROM otp WHERE target = '70000000003'",
    );
    expect(rows.map((r) => r.generated)).toEqual([true]);
    // The code the user receives is the one in the delivery event; it must be the one that checks.
    const { event } = outcome.pending;
    const delivered = unsealContent(deps.keys, event.sealed, event.id).password;
    expect(delivered).toMatch(/^\d{6}$/);
    expect(decrypt(deps.keys, rows[0]?.password_cipher as Buffer, rows[0]?.id as string)).toBe(delivered);
    const check = createChecker(deps);
    expect(await check({ channel: "sms", target: "70000000003", password: "not it" })).toEqual({
      outcome: "mismatch",
      attemptsLeft: null,
    });
    expect(await check({ channel: "sms", target: "70000000003", password: delivered })).toEqual({
      outcome: "match",
      attemptsLeft: null,
      verifiedSeconds: expect.any(Number),
    });
  });
});
