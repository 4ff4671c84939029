import { describe, expect, it } from "vitest";
import { classifyAnswer, classifyError, parseRetryAfter, redact } from "./http.js";

const answer = (status: number, bodyStart = "", retryAfter: string | null = null) => ({
  status,
  bodyStart,
  retryAfter,
});

describe("classifying a provider's answer", () => {
  it("2xx delivered; 408, 429, 5xx transient; other 4xx and 3xx permanent", () => {
    expect(classifyAnswer(answer(200), [])).toEqual({ ok: true, status: 200 });
    expect(classifyAnswer(answer(204), []).ok).toBe(true);
    for (const s of [408, 429, 500, 502, 503, 504])
      expect(classifyAnswer(answer(s), [])).toMatchObject({ ok: false, transient: true });
    for (const s of [301, 400, 401, 403, 404, 409, 422])
      expect(classifyAnswer(answer(s), [])).toMatchObject({ ok: false, transient: false });
  });

  it("keeps a short, single-line error without the secrets", () => {
    const r = classifyAnswer(answer(500, `oops\n\n code 4242 in "your code 4242" ${"x".repeat(500)}`), [
      "your code 4242",
      "4242",
    ]);
    expect(r).toMatchObject({ ok: false });
    if (r.ok) return;
    expect(r.error.startsWith('HTTP 500: oops code *** in "***" x')).toBe(true);
    expect(r.error.length).toBeLessThanOrEqual(130);
  });

  it("reads Retry-After on 429 and 503 only", () => {
    expect(classifyAnswer(answer(429, "", "7"), [])).toMatchObject({ retryAfterMs: 7_000 });
    expect(classifyAnswer(answer(503, "", "2"), [])).toMatchObject({ retryAfterMs: 2_000 });
    expect(classifyAnswer(answer(500, "", "2"), [])).not.toHaveProperty("retryAfterMs");
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfter("soon")).toBeUndefined();
  });

  it("network errors and timeouts are transient", () => {
    const refused = Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
    expect(classifyError(refused, 1000)).toEqual({ ok: false, transient: true, error: "network error: ECONNREFUSED" });
    const timeout = new DOMException("timed out", "TimeoutError");
    expect(classifyError(timeout, 1500)).toEqual({ ok: false, transient: true, error: "timeout after 1500 ms" });
  });

  it("redacts longest secrets first", () => {
    expect(redact("hello 1234 and 1234", ["1234", "hello 1234"])).toBe("*** and ***");
  });
});
