import { useTestBroker } from "@otp/broker/testing";
import { POLICY_REFUSAL_CODES } from "@otp/contracts";
import { useTestDatabase } from "@otp/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appWithFailingDatabase } from "./support/fake-deps.js";
import { freshPhone, startTestApi, type TestApi } from "./support/harness.js";
import { httpRequest } from "./support/http.js";

const db = useTestDatabase();
const broker = useTestBroker("api-http");
let api: TestApi;

beforeAll(async () => {
  api = await startTestApi({ pg: db(), broker });
});
afterAll(() => api?.close());

const json = { "Content-Type": "application/json" };
const envelope = (status_code: string) => ({ status: false, status_code, message: expect.any(String) });

describe("the envelope on every failure", () => {
  it("unknown route: 404 not_found", async () => {
    const answer = await api.raw("GET", "/no/such/thing");
    expect(answer.status).toBe(404);
    expect(answer.headers["content-type"]).toMatch(/^application\/json/);
    expect(answer.json).toEqual(envelope("not_found"));
  });

  it("wrong method on a known path: 405 method_not_allowed with Allow", async () => {
    const answer = await api.raw("DELETE", "/sms");
    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toBe("POST");
    expect(answer.json).toEqual(envelope("method_not_allowed"));
    const get = await api.call("GET", "/limit/sms/extra");
    expect(get.status).toBe(404);
    const post = await api.call("POST", "/sms/check", { phone: "1", password: "1" });
    expect(post.status).toBe(405);
  });

  it("malformed JSON: 400 bad_request, on POST and on a GET body", async () => {
    const post = await api.raw("POST", "/sms", '{"phone": "7701', json);
    expect(post.status).toBe(400);
    expect(post.json).toEqual(envelope("bad_request"));
    const get = await api.raw("GET", "/sms/check", "{oops}", json);
    expect(get.status).toBe(400);
    expect(get.json).toEqual(envelope("bad_request"));
    const array = await api.raw("POST", "/sms", "[1,2]", json);
    expect(array.status).toBe(400);
    expect(array.json).toEqual({
      status: false,
      status_code: "bad_request",
      message: "The JSON body must be an object",
    });
  });

  it("a body over 64 KiB: 413 payload_too_large (declared length, chunked, GET body, in-process)", async () => {
    const big = JSON.stringify({ phone: "77010000001", password: "1", lifetime: 60, message: "x".repeat(70_000) });
    const declared = await api.raw("POST", "/sms", big, json);
    expect(declared.status).toBe(413);
    expect(declared.json).toEqual(envelope("payload_too_large"));
    const chunked = await httpRequest(api.baseUrl, "POST", "/sms", { body: big, headers: json, chunked: true });
    expect(chunked.status).toBe(413);
    expect(chunked.json).toEqual(envelope("payload_too_large"));
    const get = await api.raw("GET", "/sms/check", big, json);
    expect(get.status).toBe(413);
    const inProcess = await api.call("POST", "/sms", big, json);
    expect(inProcess.status).toBe(413);
  });

  it("a large body under 64 KiB is fine (an email with 60,000 characters of text)", async () => {
    const answer = await api.raw(
      "POST",
      "/email",
      JSON.stringify({ email: "big@example.com", password: "1", lifetime: 60, subject: "s", text: "y".repeat(60_000) }),
      json,
    );
    expect(answer.status).toBe(200);
  });

  it("internal errors: 500 internal, no details in the answer, logged with the request id", async () => {
    const logs: string[] = [];
    const app = appWithFailingDatabase(new Error("relation otp is broken: very internal detail"), logs);
    const res = await app.request("/sms/check?phone=77010000000&password=1", {
      headers: { "X-Request-Id": "req-500" },
    });
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ status: false, status_code: "internal", message: "Internal error" });
    expect(text).not.toContain("internal detail");
    const logged = logs.map((l) => JSON.parse(l)).find((l) => l.msg === "internal error");
    expect(logged).toMatchObject({
      reqId: "req-500",
      err: { message: expect.stringContaining("very internal detail") },
    });
  });

  it("database connection errors are 503 unavailable, not 500", async () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    const app = appWithFailingDatabase(refused);
    for (const [method, path] of [
      ["POST", "/sms?phone=77010000000&password=1&lifetime=60&message=m"],
      ["GET", "/sms/check?phone=77010000000&password=1"],
      ["GET", "/limit/sms"],
      ["GET", "/password?target=77010000000"],
    ] as const) {
      const res = await app.request(path, { method });
      expect(res.status, path).toBe(503);
      expect(await res.json()).toEqual(envelope("unavailable"));
    }
    const timeout = appWithFailingDatabase(new Error("timeout exceeded when trying to connect"));
    expect((await timeout.request("/limit/sms")).status).toBe(503);
  });

  it("a value the database refuses (SQLSTATE 22021, 22P02) is a 400 validation, not a 500", async () => {
    for (const code of ["22021", "22P02"]) {
      const logs: string[] = [];
      const refused = Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code });
      const app = appWithFailingDatabase(refused, logs);
      const res = await app.request("/password?target=77010000000");
      expect(res.status, code).toBe(400);
      expect(await res.json()).toEqual(envelope("validation"));
      expect(
        logs.some((l) => JSON.parse(l).msg === "database refused a request value"),
        code,
      ).toBe(true);
    }
  });
});

describe("request ids, logs, metrics", () => {
  it("echoes X-Request-Id, or makes one", async () => {
    const given = await api.raw("GET", "/health", undefined, { "X-Request-Id": "trace-42" });
    expect(given.headers["x-request-id"]).toBe("trace-42");
    const made = await api.raw("GET", "/health");
    expect(made.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("logs one line per request with the masked target and never a password, code or message", async () => {
    const phone = "77019876543";
    await api.raw(
      "POST",
      "/sms",
      JSON.stringify({ phone, password: "Pw-81723", lifetime: 60, message: "Very private text" }),
      { ...json, "X-Request-Id": "log-1" },
    );
    await api.raw("GET", "/sms/check", JSON.stringify({ phone, password: "Pw-81723" }), json);
    await api.call("GET", `/password?target=${phone}`);
    const generatedFor = freshPhone();
    await api.call("POST", "/sms", { phone: generatedFor, lifetime: 60, message: "gen {password}" });
    const generated = (await api.call("GET", `/password?target=${generatedFor}`)).body as {
      content: { password: string };
    };
    const code = generated.content.password;
    expect(code).toMatch(/^\d{6}$/);
    // Every string in every line: a 6-digit code could appear by chance inside a timestamp number.
    const strings = (value: unknown): string[] =>
      typeof value === "string"
        ? [value]
        : value !== null && typeof value === "object"
          ? Object.values(value).flatMap(strings)
          : [];
    expect(api.logs.flatMap((l) => strings(JSON.parse(l))).filter((s) => s.includes(code))).toEqual([]);
    const all = api.logs.join("\n");
    expect(all).not.toContain("Pw-81723");
    expect(all).not.toContain("Very private text");
    expect(all).not.toContain(phone);
    const line = api.logs.map((l) => JSON.parse(l)).find((l) => l.reqId === "log-1" && l.msg === "request");
    expect(line).toMatchObject({ method: "POST", route: "/sms", status: 200, target: "7701*****43" });
  });

  it("/metrics counts requests by route, method and status, and OTPs by channel", async () => {
    const scrape = async () => (await api.app.request("/metrics")).text();
    const count = (text: string, pattern: RegExp) => Number(text.match(pattern)?.[1] ?? 0);
    const created = /otp_created_total\{channel="call"\} (\d+)/;
    const requests = /http_requests_total\{route="\/call",method="POST",status="200"\} (\d+)/;
    const before = await scrape();
    await api.call("POST", "/call", { phone: freshPhone(), password: "1", lifetime: 60 });
    await api.call("POST", "/call", { phone: freshPhone(), password: "1", lifetime: 60 });
    const after = await scrape();
    expect(count(after, created) - count(before, created)).toBe(2);
    expect(count(after, requests) - count(before, requests)).toBe(2);
    expect(after).toMatch(/http_request_duration_seconds_bucket\{le="0.05",route="\/call",method="POST"\}/);
    expect(after).toMatch(/^otp_outbox_backlog \d+$/m);
    expect(after).toMatch(/^process_cpu_user_seconds_total /m);
  });

  it("/health: database and broker both up", async () => {
    const answer = await api.call("GET", "/health");
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ status: true, content: { database: true, broker: true } });
  });
});

describe("/openapi.json and /docs", () => {
  it("is an OpenAPI 3.1 document listing every path, with the check parameters", async () => {
    const answer = await api.call("GET", "/openapi.json");
    expect(answer.status).toBe(200);
    const doc = answer.body as unknown as {
      openapi: string;
      paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>>;
    };
    expect(doc.openapi).toBe("3.1.0");
    const channels = ["sms", "call", "email", "telegram"];
    const expected = [
      ...channels.flatMap((c) => [`/${c}`, `/${c}/check`, `/limit/${c}`]),
      "/target",
      "/password",
      "/telegram/webhook",
      "/otp/{id}",
      "/otp/{id}/check",
      "/webhooks",
      "/webhooks/{id}",
      "/health",
      "/livez",
      "/metrics",
      "/stats",
      ...["sms", "call"].flatMap((c) => [`/policy/${c}`, `/policy/${c}/blocks`, `/policy/${c}/blocks/{prefix}`]),
    ];
    expect(Object.keys(doc.paths).sort()).toEqual(expected.sort());
    const params = doc.paths["/sms/check"]?.get?.parameters?.map((p) => `${p.in}:${p.name}`);
    expect(params).toEqual(["query:phone", "query:password", "query:ip"]);
    expect(doc.paths["/otp/{id}"]?.get?.parameters?.map((p) => `${p.in}:${p.name}`)).toEqual(["path:id"]);
    expect(Object.keys(doc.paths["/limit/telegram"] ?? {}).sort()).toEqual(["get", "post"]);
    expect(Object.keys(doc.paths["/otp/{id}"] ?? {}).sort()).toEqual(["delete", "get"]);
  });

  it("declares the destination policy's refusals on the phone channels' creates only", async () => {
    const doc = (await api.call("GET", "/openapi.json")).body as unknown as {
      paths: Record<string, { post?: { responses: Record<string, { description: string }> } }>;
    };
    const declared = (path: string) =>
      Object.values(doc.paths[path]?.post?.responses ?? {})
        .map((r) => r.description)
        .join(" ");
    for (const path of ["/sms", "/call"]) {
      for (const code of POLICY_REFUSAL_CODES) {
        expect(declared(path)).toContain(code);
      }
    }
    expect(declared("/sms")).toContain("phone_limit");
    expect(declared("/email")).toContain("email_limit");
    expect(declared("/email")).not.toContain("prefix_limit");
  });

  it("/docs is an HTML page pointing at the document", async () => {
    const res = await api.app.request("/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/html/);
    expect(await res.text()).toContain('src="docs/init.js"');
    const init = await api.app.request("/docs/init.js");
    expect(await init.text()).toContain('url: "openapi.json"');
  });
});
