import { describe, expect, it } from "vitest";
import { someInErrorChain } from "./error-chain.js";

const isX = (e: { code?: unknown }) => e.code === "X";

describe("someInErrorChain", () => {
  it("finds a match on the error, in its causes and in an AggregateError's errors", () => {
    expect(someInErrorChain(Object.assign(new Error(), { code: "X" }), isX)).toBe(true);
    expect(someInErrorChain(new Error("outer", { cause: Object.assign(new Error(), { code: "X" }) }), isX)).toBe(true);
    expect(someInErrorChain(new AggregateError([new Error(), Object.assign(new Error(), { code: "X" })]), isX)).toBe(
      true,
    );
  });

  it("says no for non-errors, non-matching chains, and stops on a cause cycle", () => {
    expect(someInErrorChain(undefined, isX)).toBe(false);
    expect(someInErrorChain("X", isX)).toBe(false);
    const a = new Error("a");
    const b = new Error("b", { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(someInErrorChain(a, isX)).toBe(false);
  });
});
