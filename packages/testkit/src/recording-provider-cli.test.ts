import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { startNode } from "./node-process.js";

const CLI = fileURLToPath(new URL("./recording-provider-cli.ts", import.meta.url));

it("runs as a process of its own, driven over HTTP, and stops on SIGTERM", async () => {
  const child = startNode({ name: "recording-provider", entry: CLI, args: ["--port", "0"] });
  const { port } = await child.waitForLog("recording provider listening");
  const base = `http://127.0.0.1:${port}`;
  await fetch(`${base}/__control/rules`, { method: "POST", body: JSON.stringify({ status: 503, times: 1 }) });
  expect((await fetch(`${base}/task`, { method: "POST", body: '{"a":1}' })).status).toBe(503);
  expect((await fetch(`${base}/task`, { method: "POST", body: '{"a":2}' })).status).toBe(200);
  const { requests } = (await (await fetch(`${base}/__requests`)).json()) as { requests: { json: unknown }[] };
  expect(requests.map((r) => r.json)).toEqual([{ a: 1 }, { a: 2 }]);
  expect(await child.stop()).toMatchObject({ code: 0 });
});
