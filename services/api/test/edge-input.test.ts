import { connect } from "node:net";
import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPhone, startTestApi, type TestApi } from "./support/harness.js";

/**
 * Input at the HTTP edge that is odd rather than hostile in its values (docs/api.md,
 * "Conventions" and "Errors"): repeated parameters, bytes that are not UTF-8, what Node's own
 * parser refuses, and error messages that must not repeat a code or a target back.
 */
const db = useTestDatabase();
const broker = useTestBroker("api-edge-input");
let api: TestApi;

beforeAll(async () => {
  api = await startTestApi({ pg: db(), broker, env: { OTP_TEST_TARGETS: "true" } });
});
afterAll(() => api?.close());

const createQuery = (password: string) => `password=${password}&lifetime=60&message=code`;
const checked = async (phone: string, password: string) =>
  (await api.call("GET", `/sms/check?phone=${phone}&password=${password}`)).body.status;

describe("a repeated parameter", () => {
  it("takes its last value in a query string, a form and a multipart body alike (as PHP reads them)", async () => {
    const [first, last] = [freshPhone(), freshPhone()];
    expect((await api.call("POST", `/sms?phone=${first}&phone=${last}&${createQuery("1111")}`)).status).toBe(200);
    expect(await checked(last, "1111")).toBe(true);
    expect(await checked(first, "1111")).toBe(false);

    const [formFirst, formLast] = [freshPhone(), freshPhone()];
    const form = `phone=${formFirst}&phone=${formLast}&${createQuery("2222")}`;
    const formAnswer = await api.call("POST", "/sms", form, { "Content-Type": "application/x-www-form-urlencoded" });
    expect(formAnswer.status).toBe(200);
    expect(await checked(formLast, "2222")).toBe(true);

    const [partFirst, partLast] = [freshPhone(), freshPhone()];
    const multipart = new FormData();
    multipart.append("phone", partFirst);
    multipart.append("phone", partLast);
    for (const [key, value] of Object.entries({ password: "3333", lifetime: "60", message: "code" }))
      multipart.append(key, value);
    expect((await api.app.request("/sms", { method: "POST", body: multipart })).status).toBe(200);
    expect(await checked(partLast, "3333")).toBe(true);
    expect(await checked(partFirst, "3333")).toBe(false);
  });
});

it("a form's metadata[__proto__] is kept as a label like any other key, as a JSON body's is", async () => {
  const phone = freshPhone();
  const form = `phone=${phone}&${createQuery("4444")}&metadata[__proto__]=p&metadata[order]=42`;
  const created = await api.call("POST", "/sms", form, { "Content-Type": "application/x-www-form-urlencoded" });
  expect(created.status).toBe(200);
  const id = (created.body.content as { id: string }).id;
  const { rows } = await api.pool.query("SELECT metadata::text AS m FROM otp WHERE id = $1", [id]);
  expect(JSON.parse(rows[0].m)).toEqual(JSON.parse('{"__proto__": "p", "order": "42"}'));
});

describe("error messages", () => {
  it("a malformed JSON body's message quotes none of the body", async () => {
    const phone = freshPhone();
    for (const body of [`{"phone": "${phone}", "password": '424242'}`, `{"password": "424242", "phone": +${phone}}`]) {
      // A GET with a JSON body, as the original product's clients send a check.
      const answer = await api.raw("GET", "/sms/check", body, { "Content-Type": "application/json" });
      expect(answer.status).toBe(400);
      expect(answer.json.status_code).toBe("bad_request");
      expect(answer.json.message).toMatch(/^Malformed JSON body/);
      expect(answer.json.message).not.toMatch(/424242|7701/);
    }
  });

  it("a 404 or a 405 names the path's words but not a target in it", async () => {
    const put = await api.call("PUT", "/test-targets/sms/77011234567");
    expect(put.status).toBe(405);
    expect(put.body.message).toBe("PUT is not allowed on /test-targets/sms/…; use DELETE");
    const missing = await api.call("GET", "/nope/dan@example.com");
    expect(missing.body.message).toBe("No such endpoint: GET /nope/…");
    expect((await api.call("GET", "/sms/chek")).body.message).toBe("No such endpoint: GET /sms/chek");
  });
});

it("a body that is not UTF-8 is refused, not stored with its bytes replaced", async () => {
  const phone = freshPhone();
  const body = Buffer.concat([
    Buffer.from(`{"phone": "${phone}", "password": "12`),
    Buffer.from([0xff]),
    Buffer.from('34", "lifetime": 60, "message": "code"}'),
  ]);
  const res = await api.app.request("/sms", { method: "POST", body, headers: { "Content-Type": "application/json" } });
  expect(res.status).toBe(400);
  expect(await res.json()).toMatchObject({
    status_code: "bad_request",
    message: "The request body is not valid UTF-8",
  });
  const { rows } = await api.pool.query("SELECT count(*)::int AS n FROM otp WHERE target = $1", [phone]);
  expect(rows[0].n).toBe(0);
});

it("a form's percent-escaped bytes and a multipart field must be UTF-8 too; valid escapes and a bare % are read", async () => {
  const formType = { "Content-Type": "application/x-www-form-urlencoded" };
  // A Windows-1251 form ("Код"), as a PHP client with that charset posts it.
  const cp1251 = await api.call(
    "POST",
    "/sms",
    `phone=${freshPhone()}&${createQuery("5555")}&message=%CA%EE%E4`,
    formType,
  );
  expect(cp1251.status).toBe(400);
  expect(cp1251.body).toMatchObject({ status_code: "bad_request", message: "The request body is not valid UTF-8" });

  const phone = freshPhone();
  const fine = `phone=${phone}&password=6666&lifetime=60&message=%D0%9A%D0%BE%D0%B4+{password}+100%`;
  expect((await api.call("POST", "/sms", fine, formType)).status).toBe(200);
  const { rows } = await api.pool.query<{ id: string }>("SELECT id FROM otp WHERE target = $1", [phone]);
  expect(rows).toHaveLength(1);

  const multipart = Buffer.concat([
    Buffer.from(`--b\r\nContent-Disposition: form-data; name="phone"\r\n\r\n${freshPhone()}\r\n`),
    Buffer.from('--b\r\nContent-Disposition: form-data; name="password"\r\n\r\n77'),
    Buffer.from([0xff]),
    Buffer.from('\r\n--b\r\nContent-Disposition: form-data; name="lifetime"\r\n\r\n60\r\n--b--\r\n'),
  ]);
  const res = await api.app.request("/sms", {
    method: "POST",
    body: multipart,
    headers: { "Content-Type": "multipart/form-data; boundary=b" },
  });
  expect(res.status).toBe(400);
  expect(await res.json()).toMatchObject({ message: "The request body is not valid UTF-8" });
});

it("a query string's escaped bytes must be UTF-8 as a form's are; valid escapes, + and a bare % are read", async () => {
  const bad = await api.call("POST", `/sms?phone=${freshPhone()}&${createQuery("5555")}&message=%CA%EE%E4`);
  expect(bad.status).toBe(400);
  expect(bad.body).toMatchObject({ status_code: "bad_request", message: "The query string is not valid UTF-8" });
  // Surrogates encoded as UTF-8 bytes are not UTF-8 either.
  const check = await api.call("GET", `/sms/check?phone=${freshPhone()}&password=12%ED%A0%80`);
  expect(check.status).toBe(400);

  const phone = freshPhone();
  const fine = `/sms?phone=${phone}&password=6666&lifetime=60&message=%D0%9A%D0%BE%D0%B4+{password}+100%`;
  expect((await api.call("POST", fine)).status).toBe(200);
  const password = await api.call("GET", `/password?target=${phone}`);
  expect(password.body).toMatchObject({ content: { password: "6666" } });
});

it("a query string ends at #, wherever the ? is, and a parameter without a name is dropped, as PHP reads them", async () => {
  const phone = freshPhone();
  const sent = (target: string) => rawExchange(`${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  expect(await sent(`POST /sms?phone=${phone}&${createQuery("7777")}#&password=1`)).toMatch(/^HTTP\/1.1 200/);
  expect((await api.call("GET", `/password?target=${phone}`)).body).toMatchObject({ content: { password: "7777" } });
  const fragment = await sent(`GET /sms/check#?phone=${phone}&password=7777`);
  expect(fragment).toMatch(/^HTTP\/1.1 400/);
  expect(fragment).toContain('"phone\\" parameter must be set');
  expect((await api.call("POST", "/policy/call?=x", {})).status).toBe(200); // its parameters are strict
});

it("a JSON string holding a lone surrogate is refused, not stored as U+FFFD where it would match another code", async () => {
  const phone = freshPhone();
  const create = (password: string) =>
    `{"phone": "${phone}", "password": "${password}", "lifetime": 60, "message": "code {password}"}`;
  for (const body of [
    create("12\\ud800"),
    create("12\\uDFFF"),
    `{"phone": "${phone}", "password": "1234", "lifetime": 60, "message": "hi \\uD83D"}`,
    `{"phone": "${phone}", "password": "1234", "lifetime": 60, "message": "hi", "metadata": {"k\\udc00": "v"}}`,
  ]) {
    const res = await api.call("POST", "/sms", body, { "Content-Type": "application/json" });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ status_code: "bad_request" });
    expect(String(res.body.message)).toContain("lone surrogate");
  }
  const { rows } = await api.pool.query("SELECT count(*)::int AS n FROM otp WHERE target = $1", [phone]);
  expect(rows[0].n).toBe(0);
  // A pair is one character, as is U+FFFD written as itself.
  const pair = await api.call("POST", "/sms", create("12\\uD83D\\uDE00\uFFFD"), { "Content-Type": "application/json" });
  expect(pair.status).toBe(200);
});

/** Sends bytes as they are over a socket of its own and returns the whole answer. */
function rawExchange(request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(api.port, "127.0.0.1");
    let answer = "";
    socket.on("data", (chunk) => {
      answer += chunk.toString();
    });
    socket.on("end", () => resolve(answer));
    socket.on("error", reject);
    socket.write(request);
  });
}

describe("what Node's HTTP parser or the URL refuses", () => {
  const parts = (answer: string) => {
    const [head = "", body = ""] = answer.split("\r\n\r\n");
    return { statusLine: head.split("\r\n")[0], head: head.toLowerCase(), body: JSON.parse(body) };
  };

  it("is answered in the envelope, with the security headers, and the connection closed", async () => {
    const garbage = parts(await rawExchange("HELLO THERE\r\n\r\n"));
    expect(garbage.statusLine).toBe("HTTP/1.1 400 Bad Request");
    expect(garbage.body).toMatchObject({ status: false, status_code: "bad_request" });
    expect(garbage.head).toContain("x-content-type-options: nosniff");
    expect(garbage.head).toContain("connection: close");

    const long = `GET /sms/check?phone=77011234567&password=${"1".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`;
    const tooLong = parts(await rawExchange(long));
    expect(tooLong.statusLine).toBe("HTTP/1.1 431 Request Header Fields Too Large");
    expect(tooLong.body).toMatchObject({ status: false, status_code: "headers_too_large" });
    expect(JSON.stringify(tooLong.body)).not.toContain("7701");

    const backslash = parts(await rawExchange("GET /sms\\check HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    expect(backslash.statusLine).toMatch(/^HTTP\/1\.1 400/);
    expect(backslash.body).toMatchObject({ status: false, status_code: "bad_request" });
    expect(backslash.head).toContain("cache-control: no-store");
  });

  it("closes the connection of a refused client that keeps its side open, so it holds no connection slot", async () => {
    // HTTP_MAX_CONNECTIONS and the timeouts are there so that stalled clients cannot take every
    // connection (docs/security.md, "The HTTP edge"); a client refused by the parser and left
    // half-open must not get round them.
    const small = await startTestApi({ pg: db(), broker, env: { HTTP_MAX_CONNECTIONS: "2" } });
    const stalled = [0, 1].map(() => connect({ port: small.port, host: "127.0.0.1", allowHalfOpen: true }));
    try {
      for (const socket of stalled) {
        socket.on("error", () => {});
        socket.resume();
        socket.write("HELLO THERE\r\n\r\n");
        await new Promise((resolve) => socket.once("end", resolve)); // answered; it stays, silent
      }
      await new Promise((r) => setTimeout(r, 1_500));
      const health = await small.raw("GET", "/livez").catch((error: Error) => error);
      expect(health).toMatchObject({ status: 200 });
    } finally {
      for (const socket of stalled) socket.destroy();
      await small.close();
    }
  });
});
