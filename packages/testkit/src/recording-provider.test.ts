import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { RecordingProvider } from "./recording-provider.js";

const provider = new RecordingProvider();
beforeAll(() => provider.start());
afterAll(() => provider.stop());
beforeEach(() => {
  provider.reset();
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${provider.url}${path}`, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "content-type": "application/json", ...headers },
  });

describe("RecordingProvider", () => {
  it("records method, path, headers, raw and parsed body, and answers {status: true}", async () => {
    const res = await post("/task?x=1", '{"b":1,"a":"\\/"}', { "Idempotency-Key": "k1" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: true });
    await post("/sms", {});
    const [r, next] = provider.requests();
    // Numbered in arrival order (reset() forgets the records, not the count: other tests ran first).
    expect(next?.seq).toBe((r?.seq ?? 0) + 1);
    expect(r).toMatchObject({
      method: "POST",
      path: "/task",
      query: "?x=1",
      body: '{"b":1,"a":"\\/"}',
      json: { b: 1, a: "/" },
      answer: 200,
    });
    expect(r?.headers["idempotency-key"]).toBe("k1");
    expect(r?.receivedAt).toBeGreaterThan(Date.now() - 5_000);
  });

  it("fails the next N requests, by path, then behaves again", async () => {
    provider.failNext(2, 503, { path: "/sms" });
    expect((await post("/smtp", {})).status).toBe(200);
    expect((await post("/sms", {})).status).toBe(503);
    expect((await post("/sms", {})).status).toBe(503);
    expect((await post("/sms", {})).status).toBe(200);
  });

  it("fails a share of requests at random", async () => {
    provider.failRate(0.5, 500);
    const statuses = await Promise.all(Array.from({ length: 200 }, () => post("/x", {}).then((r) => r.status)));
    const failed = statuses.filter((s) => s === 500).length;
    expect(failed).toBeGreaterThan(60);
    expect(failed).toBeLessThan(140);
  });

  it("mimics http-telegram-notify's 500 after sending, resets connections, delays and holds", async () => {
    provider.addRule({ action: "telegram-sent", times: 1 });
    const tg = await post("/msg", { to: 42, message: "hi" });
    expect(tg.status).toBe(500);
    expect(await tg.text()).toMatch(/^Sent message "hi" to 42/);

    provider.addRule({ action: "reset", times: 1 });
    await expect(post("/sms", {})).rejects.toThrow();

    provider.setDelay(150);
    const t0 = Date.now();
    await post("/sms", {});
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    provider.setDelay(0);

    provider.hold();
    const held = post("/sms", {});
    await provider.waitForRequests(1, { path: "/sms" });
    await expect.poll(() => provider.heldCount).toBeGreaterThanOrEqual(1);
    provider.release();
    expect((await held).status).toBe(200);
  });

  it("is driven over HTTP by a process that does not share its memory", async () => {
    await post("/__control/rules", [{ path: "/task", status: 429, times: 1, headers: { "retry-after": "3" } }]);
    const limited = await post("/task", { a: 1 });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("3");
    await post("/task", { a: 2 });
    const listed = (await (await fetch(`${provider.url}/__requests?path=/task`)).json()) as {
      requests: { json: unknown; answer: number }[];
    };
    expect(listed.requests.map((r) => [r.json, r.answer])).toEqual([
      [{ a: 1 }, 429],
      [{ a: 2 }, 200],
    ]);
    await post("/__control/rules", { status: 503 });
    expect((await post("/task", { a: 3 })).status).toBe(503);
    expect((await fetch(`${provider.url}/__control/rules`, { method: "DELETE" })).status).toBe(200);
    expect((await post("/task", { a: 4 })).status).toBe(200);
    expect(provider.requests()).toHaveLength(4); // clearing the rules keeps the records
    await post("/__control/delay", { ms: 10 });
    expect(await (await fetch(`${provider.url}/__control`)).json()).toMatchObject({ delayMs: 10, recorded: 4 });
    await post("/__control/reset", {});
    expect(provider.requests()).toHaveLength(0);
    expect((await fetch(`${provider.url}/__nothing`, { method: "POST" })).status).toBe(200);
    expect((await post("/__control/nope", {})).status).toBe(404);
  });
});
