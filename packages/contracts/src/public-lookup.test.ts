import { createSocket, type Socket } from "node:dgram";
import { lookup, Resolver } from "node:dns/promises";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NOT_PUBLIC, publicLookups } from "./public-lookup.js";

/**
 * A name server on 127.0.0.1 for the test: answers an A query with `answers[name]` (no AAAA
 * records), and never answers a name it does not know, as a dead domain's servers do.
 */
function startNameServer(answers: Record<string, string>): Promise<Socket> {
  const server = createSocket("udp4");
  server.on("message", (query, peer) => {
    let at = 12;
    const labels: string[] = [];
    while (query[at] !== 0 && at < query.length) {
      const length = query[at] as number;
      labels.push(query.subarray(at + 1, at + 1 + length).toString("ascii"));
      at += length + 1;
    }
    const question = query.subarray(12, at + 5);
    const type = query.readUInt16BE(at + 1);
    const address = answers[labels.join(".").toLowerCase()];
    if (address === undefined) return; // silence
    const answer =
      type === 1
        ? Buffer.concat([
            Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]),
            Buffer.from(address.split(".").map(Number)),
          ])
        : Buffer.alloc(0);
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2);
    header.writeUInt16BE(0x8180, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answer.length > 0 ? 1 : 0, 6);
    server.send(Buffer.concat([header, question, answer]), peer.port, peer.address);
  });
  return new Promise((resolve) => server.bind(0, "127.0.0.1", () => resolve(server)));
}

let server: Socket;
let lookups: ReturnType<typeof publicLookups>;

beforeAll(async () => {
  server = await startNameServer({ "public.example": "93.184.215.14", "inside.example": "10.1.2.3" });
  const resolver = new Resolver({ timeout: 300, tries: 1 });
  resolver.setServers([`127.0.0.1:${(server.address() as AddressInfo).port}`]);
  lookups = publicLookups(resolver);
});
afterAll(() => server?.close());

const viaLookup = (host: string, family = 0) =>
  new Promise<{ error?: NodeJS.ErrnoException; address?: string }>((done) =>
    lookups.publicOnlyLookup(host, { family }, (error, address) =>
      done(error ? { error } : { address: address as string }),
    ),
  );

describe("the lookup of addresses someone else chose (webhooks, the pre-send hook)", () => {
  it("gives a public address, and refuses a name that resolves inside the network or to loopback", async () => {
    expect(await viaLookup("public.example")).toEqual({ address: "93.184.215.14" });
    expect((await viaLookup("inside.example")).error?.code).toBe(NOT_PUBLIC);
    expect((await viaLookup("localhost")).error?.code).toBe(NOT_PUBLIC);
    expect((await viaLookup("api.localhost.")).error?.code).toBe(NOT_PUBLIC);
    expect((await viaLookup("public.example", 6)).error?.code).toBe("ENOTFOUND");
  });

  it("a name whose servers never answer fails on its own, and holds up no other lookup of the process", async () => {
    const started = Date.now();
    const silent = Array.from({ length: 12 }, (_, i) => viaLookup(`dead${i}.example`));
    // getaddrinfo runs on Node's thread pool: it would wait behind hung lookups there.
    const system = Date.now();
    await lookup("localhost");
    expect(Date.now() - system).toBeLessThan(500);
    const failed = await Promise.all(silent);
    // In getaddrinfo's terms: c-ares' own ETIMEOUT would read like the receiver timing out.
    expect(failed.map((r) => r.error?.code)).toEqual(Array(12).fill("EAI_AGAIN"));
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
