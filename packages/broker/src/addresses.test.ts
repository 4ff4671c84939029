import { expect, it } from "vitest";
import { AddressRotation } from "./addresses.js";

it("hands out the addresses in turn, round and round, whatever became of each attempt", () => {
  const r = new AddressRotation(["a", "b", "c"]);
  expect(r.take()).toBe("a");
  r.connected(); // connected to a, later lost: b is next
  expect([r.take(), r.take(), r.take(), r.take()]).toEqual(["b", "c", "a", "b"]);
});

it("says a round has failed only once every address has failed in a row", () => {
  const r = new AddressRotation(["a", "b", "c"]);
  expect([r.failed(), r.failed(), r.failed()]).toEqual([false, false, true]);
  expect([r.failed(), r.failed()]).toEqual([false, false]);
  r.connected();
  expect([r.failed(), r.failed(), r.failed()]).toEqual([false, false, true]);
});

it("with one URL, every failure is a whole round (back off each time, as before)", () => {
  const r = new AddressRotation("amqp://one");
  expect([r.take(), r.take()]).toEqual(["amqp://one", "amqp://one"]);
  expect([r.failed(), r.failed()]).toEqual([true, true]);
});

it("refuses an empty list", () => {
  expect(() => new AddressRotation([])).toThrow(/at least one URL/);
});
