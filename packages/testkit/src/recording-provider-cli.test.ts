import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const CLI = fileURLToPath(new URL("./recording-provider-cli.ts", import.meta.url));

it("runs as a process of its own, driven over HTTP, and stops on SIGTERM", async () => {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, "--port", "0"], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once("data", (chunk: Buffer) => {
      try {
        resolve((JSON.parse(chunk.toString("utf8").split("\n")[0] ?? "") as { port: number }).port);
      } catch (error) {
        reject(error);
      }
    });
  });
  const base = `http://127.0.0.1:${port}`;
  await fetch(`${base}/__control/rules`, { method: "POST", body: JSON.stringify({ status: 503, times: 1 }) });
  expect((await fetch(`${base}/task`, { method: "POST", body: '{"a":1}' })).status).toBe(503);
  expect((await fetch(`${base}/task`, { method: "POST", body: '{"a":2}' })).status).toBe(200);
  const { requests } = (await (await fetch(`${base}/__requests`)).json()) as { requests: { json: unknown }[] };
  expect(requests.map((r) => r.json)).toEqual([{ a: 1 }, { a: 2 }]);
  child.kill("SIGTERM");
  expect(await exited).toBe(0);
});
