import { describe, expect, it } from "vitest";
import { createTables } from "../schema.js";
import { createSql } from "./index.js";
import { prepared, qualifiedName, statement } from "./statement.js";

describe("statements with named parameters", () => {
  const byName = statement<{ channel: string; target: string; now: Date }>(
    ["channel", "target", "now"],
    (p) => `SELECT 1 WHERE ${p.now} > ${p.channel} AND ${p.target} = ${p.channel}`,
  );

  it("places each name at its position in the list, whatever the order the text uses them in", () => {
    expect(byName.text).toBe("SELECT 1 WHERE $3 > $1 AND $2 = $1");
    const at = new Date(0);
    expect(byName({ now: at, target: "t", channel: "c" })).toEqual({
      text: "SELECT 1 WHERE $3 > $1 AND $2 = $1",
      values: ["c", "t", "1970-01-01T00:00:00.000Z"],
    });
  });

  it("sends a date as its instant in UTC, and leaves one outside years 1–9999 to node-postgres", () => {
    const local = new Date("2026-12-02T05:06:07.089+05:00");
    expect(byName({ now: local, target: "t", channel: "c" }).values[2]).toBe("2026-12-02T00:06:07.089Z");
    const invalid = new Date(Number.NaN);
    expect(byName({ now: invalid, target: "t", channel: "c" }).values[2]).toBe(invalid);
  });

  it("refuses a name the list does not hold, rather than send it as null", () => {
    expect(() => statement<{ a: string; b: string }>(["a"], (p) => `SELECT ${p.a}, ${p.b}`)).toThrow(/b is not in/);
  });

  it("renders the text with other placeholders (pgbench variables)", () => {
    expect(byName.render((name) => `:${name}`)).toBe("SELECT 1 WHERE :now > :channel AND :target = :channel");
  });

  it("a prepared statement is named after its purpose and its text", () => {
    const build = (table: string) => prepared<{ id: string }>("probe", ["id"], (p) => `SELECT ${p.id} FROM ${table}`);
    const query = build("a")({ id: "x" });
    expect(query.name).toMatch(/^otp_probe_[0-9a-f]{12}$/);
    expect(build("a")({ id: "y" }).name).toBe(query.name);
    expect(build("b")({ id: "x" }).name).not.toBe(query.name);
    expect(byName({ channel: "c", target: "t", now: new Date() })).not.toHaveProperty("name");
  });
});

describe("table names come from the drizzle schema", () => {
  it("qualifies them with the configured schema, `public` included", () => {
    expect(qualifiedName(createTables("public").otp)).toBe('"public"."otp"');
    expect(qualifiedName(createTables("tenant_a").limitRule)).toBe('"tenant_a"."limit_rule"');
    expect(qualifiedName(createTables('we"ird').outbox)).toBe('"we""ird"."outbox"');
  });

  it("two schemas never share a prepared statement", () => {
    const a = createSql(createTables("public")).otp.check;
    const b = createSql(createTables("tenant_a")).otp.check;
    expect(a.text).toContain('"public"."otp_check"');
    expect(b.text).toContain('"tenant_a"."otp_check"');
    const params = {
      channel: "sms",
      target: "1",
      ip: null,
      throttleAfter: 5,
      now: new Date(),
      nonce: Buffer.alloc(1),
      blinded: Buffer.alloc(1),
      maxFailures: 0,
      singleUse: false,
      only: null,
    } as const;
    expect(a(params).name).not.toBe(b(params).name);
  });
});
