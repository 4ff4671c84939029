import { RecordingProvider } from "@otp/testkit";
import { describe, expect, it } from "vitest";
import { classifyAnswer, classifyError, parseRetryAfter, post } from "./http.js";

const keep = (text: string) => text;

const answer = (status: number, bodyStart = "", retryAfter: string | null = null) => ({
  status,
  bodyStart,
  retryAfter,
});

describe("classifying a provider's answer", () => {
  it("2xx delivered; 408, 409, 425, 429, 5xx transient; other 4xx and 3xx permanent", () => {
    expect(classifyAnswer(answer(200), keep)).toEqual({ ok: true, status: 200 });
    expect(classifyAnswer(answer(204), keep).ok).toBe(true);
    for (const s of [408, 409, 425, 429, 500, 502, 503, 504])
      expect(classifyAnswer(answer(s), keep)).toMatchObject({ ok: false, transient: true });
    for (const s of [301, 400, 401, 403, 404, 410, 422])
      expect(classifyAnswer(answer(s), keep)).toMatchObject({ ok: false, transient: false });
  });

  it("keeps a short, single-line error, redacted before it is shortened", () => {
    const redact = (text: string) => text.replaceAll("your code 4242", "***").replaceAll("4242", "***");
    const r = classifyAnswer(answer(500, `oops\n\n code 4242 in "your code 4242" ${"x".repeat(500)}`), redact);
    expect(r).toMatchObject({ ok: false });
    if (r.ok) return;
    expect(r.error.startsWith('HTTP 500: oops code *** in "***" x')).toBe(true);
    expect(r.error.length).toBeLessThanOrEqual(130);
  });

  it("reads Retry-After on 429 and 503 only", () => {
    expect(classifyAnswer(answer(429, "", "7"), keep)).toMatchObject({ retryAfterMs: 7_000 });
    expect(classifyAnswer(answer(503, "", "2"), keep)).toMatchObject({ retryAfterMs: 2_000 });
    expect(classifyAnswer(answer(500, "", "2"), keep)).not.toHaveProperty("retryAfterMs");
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfter("soon")).toBeUndefined();
  });

  it("network errors and timeouts are transient", () => {
    const refused = Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
    expect(classifyError(refused, 1000)).toEqual({ ok: false, transient: true, error: "network error: ECONNREFUSED" });
    const timeout = new DOMException("timed out", "TimeoutError");
    expect(classifyError(timeout, 1500)).toEqual({ ok: false, transient: true, error: "timeout after 1500 ms" });
  });
});

describe("post", () => {
  it("sends to the URL's path and query, with its credentials, the body and the idempotency key", async () => {
    const provider = new RecordingProvider();
    const port = await provider.start();
    provider.addRule({ path: "/queue/task", status: 202, body: "queued", headers: { "Retry-After": "3" } });
    try {
      const call = (url: string, key: string) =>
        post(
          { url, body: '{"a":"\\u00e9"}', headers: {}, idempotencyKey: key, timeoutMs: 2_000 },
          new AbortController().signal,
        );
      // Twice each: the second use of a URL takes its parsed form from the cache.
      for (const key of ["k1", "k2"]) {
        expect(await call(`http://user:p%40ss@127.0.0.1:${port}/queue/task?x=1`, key)).toEqual({
          status: 202,
          bodyStart: "queued",
          retryAfter: "3",
        });
        await call(`http://127.0.0.1:${port}/other`, `${key}-other`);
      }
      const seen = provider.requests();
      expect(seen.map((s) => `${s.method} ${s.path}${s.query}`)).toEqual([
        "POST /queue/task?x=1",
        "POST /other",
        "POST /queue/task?x=1",
        "POST /other",
      ]);
      expect(seen[0]?.headers.authorization).toBe(`Basic ${Buffer.from("user:p@ss").toString("base64")}`);
      expect(seen[1]?.headers.authorization).toBeUndefined();
      expect(seen.map((s) => s.headers["idempotency-key"])).toEqual(["k1", "k1-other", "k2", "k2-other"]);
      expect(seen[0]?.headers["content-type"]).toBe("application/json");
      expect(seen[0]?.body).toBe('{"a":"\\u00e9"}');
    } finally {
      await provider.stop();
    }
  });

  it("an unreachable URL is a network error, a malformed one a rejection", async () => {
    const signal = new AbortController().signal;
    const base = { body: "{}", headers: {}, idempotencyKey: "k", timeoutMs: 2_000 };
    const refused = await post({ ...base, url: "http://127.0.0.1:1/task" }, signal).catch((e: unknown) => e);
    expect(classifyError(refused, 2_000)).toEqual({ ok: false, transient: true, error: "network error: ECONNREFUSED" });
    await expect(post({ ...base, url: "not a url" }, signal)).rejects.toThrow();
  });
});
