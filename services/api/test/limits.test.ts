import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { freshPhone, startTestApi, type TestApi } from "./support/harness.js";

const db = useTestDatabase();
const broker = useTestBroker("api-limits");
let api: TestApi;
let replica: TestApi;

beforeAll(async () => {
  api = await startTestApi({ pg: db(), broker });
  // A second replica on the same database (and the same time): limits must hold across replicas.
  replica = await startTestApi({ pg: db(), broker, clock: api.clock });
});
afterAll(async () => {
  await api?.close();
  await replica?.close();
});

const clearAll = async () => {
  for (const [channel, key] of [
    ["sms", "phones"],
    ["call", "phones"],
    ["email", "emails"],
    ["telegram", "chat_ids"],
  ]) {
    await api.call("POST", `/limit/${channel}`, { ips: [], [key as string]: [] });
  }
};
beforeEach(clearAll);

const sms = (target: TestApi, phone: string, extra: Record<string, unknown> = {}) =>
  target.call("POST", "/sms", { phone, password: "1234", lifetime: 300, message: "Code {password}", ...extra });
const rules = (channel: string) => api.call("GET", `/limit/${channel}`).then((a) => a.body.content);

describe("POST /limit/{channel}", () => {
  it("replaces each measure present, keeps each absent, clears with an empty array", async () => {
    await api.call("POST", "/limit/sms", { ips: [{ minutes: 10, rate: 3 }], phones: [{ minutes: 1, rate: 1 }] });
    expect(await rules("sms")).toEqual({ ips: [{ minutes: 10, rate: 3 }], phones: [{ minutes: 1, rate: 1 }] });

    // phones absent: kept; ips present: replaced, order kept.
    await api.call("POST", "/limit/sms", {
      ips: [
        { minutes: 60, rate: 10 },
        { minutes: 5, rate: 2 },
      ],
    });
    expect(await rules("sms")).toEqual({
      ips: [
        { minutes: 60, rate: 10 },
        { minutes: 5, rate: 2 },
      ],
      phones: [{ minutes: 1, rate: 1 }],
    });

    // An empty array clears that measure only.
    await api.call("POST", "/limit/sms", { phones: [] });
    expect(await rules("sms")).toEqual({
      ips: [
        { minutes: 60, rate: 10 },
        { minutes: 5, rate: 2 },
      ],
      phones: [],
    });

    // Channels are independent.
    expect(await rules("call")).toEqual({ ips: [], phones: [] });
  });

  it("accepts numeric strings and null as absent; /limit/telegram uses chat_ids", async () => {
    await api.call("POST", "/limit/telegram", { ips: null, chat_ids: [{ minutes: "2", rate: "1" }] });
    expect(await rules("telegram")).toEqual({ ips: [], chat_ids: [{ minutes: 2, rate: 1 }] });
  });

  it("a rejected request changes nothing, not even its valid part", async () => {
    await api.call("POST", "/limit/email", { ips: [{ minutes: 10, rate: 3 }], emails: [{ minutes: 10, rate: 3 }] });
    for (const bad of [
      { ips: [], emails: [{ minutes: 0, rate: 1 }] },
      { ips: [], emails: [{ minutes: 5, rate: -1 }] },
      { ips: [], emails: [{ minutes: 1.5, rate: 1 }] },
      { ips: [], emails: "lots" },
      { ips: [{ minutes: 5 }] },
    ]) {
      const answer = await api.call("POST", "/limit/email", bad);
      expect(answer.status).toBe(400);
      expect(answer.body.status_code).toBe("validation");
    }
    expect(await rules("email")).toEqual({ ips: [{ minutes: 10, rate: 3 }], emails: [{ minutes: 10, rate: 3 }] });
  });

  it("names the problem inside the array", async () => {
    const answer = await api.call("POST", "/limit/sms", { phones: [{ minutes: 10, rate: 3 }, { minutes: 10 }] });
    expect(answer.body.message).toBe('"rate" parameter must be set (at phones[1].rate)');
  });

  it("a change is in force as soon as POST /limit answers, on every replica", async () => {
    const phone = freshPhone();
    expect((await sms(replica, phone)).status).toBe(200); // replica has now seen "no rules" for sms
    await api.call("POST", "/limit/sms", { phones: [{ minutes: 10, rate: 1 }] });
    const r = await sms(replica, phone);
    if (r.status !== 429) console.log(replica.logs.filter((l) => l.includes("internal")).join("\n"));
    expect(r.status).toBe(429);
    await api.call("POST", "/limit/sms", { phones: [] });
    expect((await sms(replica, phone)).status).toBe(200);
  });
});

describe("limits on creation", () => {
  it("refuses over a phone rule with 429 phone_limit, a message naming the rule and Retry-After", async () => {
    await api.call("POST", "/limit/sms", { phones: [{ minutes: 10, rate: 2 }] });
    const phone = freshPhone();
    expect((await sms(api, phone)).status).toBe(200);
    api.clock.advance(60_000);
    expect((await sms(api, phone)).status).toBe(200);
    api.clock.advance(60_000);
    const refused = await sms(api, phone);
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({
      status: false,
      status_code: "phone_limit",
      message: "Phone limit has been reached: 2 per 10 minutes",
    });
    // The oldest of the two leaves the 10-minute window 8 minutes from now.
    const retryAfter = Number(refused.headers.get("Retry-After"));
    expect(retryAfter).toBeGreaterThan(8 * 60 - 2);
    expect(retryAfter).toBeLessThanOrEqual(8 * 60);
    // Other phones are not affected; refused OTPs do not count.
    expect((await sms(api, freshPhone())).status).toBe(200);
    api.clock.advance(retryAfter * 1000);
    expect((await sms(api, phone)).status).toBe(200);
    expect((await sms(api, phone)).status).toBe(429);
  });

  it("requires ip once the channel has an ip rule", async () => {
    await api.call("POST", "/limit/call", { ips: [{ minutes: 10, rate: 5 }] });
    const answer = await api.call("POST", "/call", { phone: freshPhone(), password: "1", lifetime: 60 });
    expect(answer.status).toBe(400);
    expect(answer.body.status_code).toBe("validation");
    expect(answer.body.message).toMatch(/^"ip" parameter must be set/);
    const ok = await api.call("POST", "/call", { phone: freshPhone(), password: "1", lifetime: 60, ip: "10.0.0.1" });
    expect(ok.status).toBe(200);
  });

  it("rejects an ip that is not an address", async () => {
    const answer = await sms(api, freshPhone(), { ip: "999.1.1.1" });
    expect(answer.status).toBe(400);
    expect(answer.body.message).toBe('"ip" must be an IPv4 or IPv6 address');
  });

  it("evaluates ip rules before phone rules; Retry-After covers every broken window", async () => {
    await api.call("POST", "/limit/sms", { ips: [{ minutes: 5, rate: 1 }], phones: [{ minutes: 30, rate: 1 }] });
    const phone = freshPhone();
    expect((await sms(api, phone, { ip: "10.1.1.1" })).status).toBe(200);
    const both = await sms(api, phone, { ip: "10.1.1.1" });
    expect(both.status).toBe(429);
    expect(both.body.status_code).toBe("ip_limit");
    expect(both.body.message).toBe("IP limit has been reached: 1 per 5 minutes");
    expect(Number(both.headers.get("Retry-After"))).toBeGreaterThan(29 * 60);
    // Another ip, same phone: the phone rule speaks.
    const phoneOnly = await sms(api, phone, { ip: "10.1.1.2" });
    expect(phoneOnly.body.status_code).toBe("phone_limit");
    // Same ip, another phone: the ip rule speaks.
    const ipOnly = await sms(api, freshPhone(), { ip: "10.1.1.1" });
    expect(ipOnly.body.status_code).toBe("ip_limit");
    expect(Number(ipOnly.headers.get("Retry-After"))).toBeLessThanOrEqual(5 * 60);
  });

  it("uses each channel's code: email_limit, chat_id_limit", async () => {
    await api.call("POST", "/limit/email", { emails: [{ minutes: 1, rate: 1 }] });
    await api.call("POST", "/limit/telegram", { chat_ids: [{ minutes: 1, rate: 1 }] });
    const email = { email: "limit@example.com", password: "1", lifetime: 60, subject: "s" };
    expect((await api.call("POST", "/email", email)).status).toBe(200);
    expect((await api.call("POST", "/email", email)).body.status_code).toBe("email_limit");
    const tg = { chat_id: 42, password: "1", lifetime: 60, message: "m" };
    expect((await api.call("POST", "/telegram", tg)).status).toBe(200);
    const refused = await api.call("POST", "/telegram", tg);
    expect(refused.body).toMatchObject({ status_code: "chat_id_limit" });
    expect(refused.body.message).toBe("Chat id limit has been reached: 1 per 1 minute");
  });

  it("a rule lowered below what a window holds: Retry-After waits for enough OTPs to leave", async () => {
    const phone = freshPhone();
    for (let i = 0; i < 3; i++) {
      expect((await sms(api, phone)).status).toBe(200);
      api.clock.advance(60_000);
    }
    // Three OTPs at -3, -2, -1 minutes; now at most 2 per 10 minutes: to take one more, the two
    // oldest must leave, the second of them 10 - 2 = 8 minutes from now.
    await api.call("POST", "/limit/sms", { phones: [{ minutes: 10, rate: 2 }] });
    const refused = await sms(api, phone);
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get("Retry-After"));
    expect(retryAfter).toBeGreaterThan(8 * 60 - 2);
    expect(retryAfter).toBeLessThanOrEqual(8 * 60);
  });

  it("30 parallel creations for one phone under rate 3, spread over two replicas: exactly 3 accepted", async () => {
    await api.call("POST", "/limit/sms", { phones: [{ minutes: 10, rate: 3 }] });
    const phone = freshPhone();
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => sms(i % 2 === 0 ? api : replica, phone, { password: String(1000 + i) })),
    );
    const accepted = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 429);
    expect(accepted).toHaveLength(3);
    expect(refused).toHaveLength(27);
    for (const r of refused) {
      expect(r.body.status_code).toBe("phone_limit");
      expect(Number(r.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
    }
    const { rows } = await api.pool.query("SELECT count(*)::int AS n FROM otp WHERE target = $1", [phone]);
    expect(rows[0].n).toBe(3);
  });

  it("30 parallel creations over real sockets with an ip rule of 3: exactly 3 accepted", async () => {
    await api.call("POST", "/limit/sms", { ips: [{ minutes: 10, rate: 3 }] });
    const answers = await Promise.all(
      Array.from({ length: 30 }, () =>
        api.raw(
          "POST",
          "/sms",
          JSON.stringify({ ip: "192.0.2.7", phone: freshPhone(), password: "1", lifetime: 60, message: "m" }),
          { "Content-Type": "application/json" },
        ),
      ),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(3);
    expect(answers.filter((a) => a.status === 429 && a.json.status_code === "ip_limit")).toHaveLength(27);
  });

  it("counts refusals in /metrics", async () => {
    const text = await (await api.app.request("/metrics")).text();
    expect(text).toMatch(/otp_refused_total\{channel="sms",reason="phone_limit"\} [1-9]/);
    expect(text).toMatch(/otp_refused_total\{channel="sms",reason="ip_limit"\} [1-9]/);
  });
});
