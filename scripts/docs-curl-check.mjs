#!/usr/bin/env node
/**
 * Runs the documentation's executed examples against an API and compares each `bash` block's output
 * with the `json`, `http` or `text` block that follows it. In expected answers `…` stands for
 * anything (an id, a generated code, a timestamp). Which blocks run is listed in DOCUMENTS below;
 * each document is run in order, from a fresh start of its own.
 *
 *   node scripts/docs-curl-check.mjs                  # every document, each against the built API
 *                                                     # (services/api/dist/main.js) started on a fresh
 *                                                     # database and queue prefix (run `pnpm build` first)
 *   node scripts/docs-curl-check.mjs docs/api.md      # only the documents named
 *   node scripts/docs-curl-check.mjs --url http://localhost:3000   # against a running API
 *
 * Against a running API the answers depend on what its database already holds (limits, earlier
 * codes); the fresh start is the reliable check.
 */
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
// Built code (the script runs after `pnpm build`, like the API it starts).
import { freePort } from "../packages/testkit/dist/index.js";

const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * The documents whose examples are executed: the whole of a file, or one `## ` section of it (up to
 * the next `## ` heading). Every `bash` block there must be followed by its expected answer. `env`:
 * variables the fresh API of that document starts with (a feature behind a setting).
 */
const DOCUMENTS = [
  { file: "docs/api.md" },
  { file: "docs/lifecycle.md" },
  { file: "README.md", section: "## Try it" },
  { file: "docs/statistics.md" },
  { file: "docs/test-targets.md", env: { OTP_TEST_TARGETS: "true" } },
];

function examplesText({ file, section }) {
  const text = readFileSync(`${root}/${file}`, "utf8");
  if (!section) return text;
  const start = text.indexOf(`\n${section}\n`);
  if (start < 0) throw new Error(`${file} has no '${section}' section`);
  const next = text.indexOf("\n## ", start + 1);
  return text.slice(start, next < 0 ? undefined : next);
}

/** The (command, expected) pairs: each `bash` block and the first non-bash block after it. */
function examples(section) {
  const blocks = [...section.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1], body: m[2] }));
  const pairs = [];
  for (let i = 0; i < blocks.length; i++) {
    if (blocks[i].lang !== "bash") continue;
    const expected = blocks[i + 1];
    if (!expected || expected.lang === "bash") throw new Error(`no expected answer after:\n${blocks[i].body}`);
    pairs.push({ command: blocks[i].body, expected });
  }
  return pairs;
}

const wildcard = (pattern) =>
  new RegExp(
    `^${pattern
      .split("…")
      .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      .join("[\\s\\S]*")}$`,
  );

function matches(expected, actual) {
  // `…` alone stands for any value: a number that varies, an object the example is not about.
  if (expected === "…") return true;
  if (typeof expected === "string") return typeof actual === "string" && wildcard(expected).test(actual);
  if (Array.isArray(expected)) {
    return (
      Array.isArray(actual) && expected.length === actual.length && expected.every((e, i) => matches(e, actual[i]))
    );
  }
  if (expected && typeof expected === "object") {
    if (!actual || typeof actual !== "object" || Array.isArray(actual)) return false;
    const keys = Object.keys(expected);
    return (
      keys.length === Object.keys(actual).length && keys.every((k) => k in actual && matches(expected[k], actual[k]))
    );
  }
  return expected === actual;
}

/** Splits `{"a":1}{"b":2}\n{"c":3}` into its JSON values. */
function jsonValues(text) {
  const values = [];
  let depth = 0;
  let inString = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === "{" || ch === "[") {
      if (depth++ === 0) start = i;
    } else if (ch === "}" || ch === "]") {
      if (--depth === 0) values.push(JSON.parse(text.slice(start, i + 1)));
    }
  }
  return values;
}

function compare(expected, output) {
  if (expected.lang === "json") {
    const want = jsonValues(expected.body);
    const got = jsonValues(output);
    return want.length === got.length && want.every((w, i) => matches(w, got[i]));
  }
  if (expected.lang === "http") {
    const [head, body = ""] = output.replaceAll("\r\n", "\n").split("\n\n");
    const [wantHead, wantBody = ""] = expected.body.split("\n\n");
    const [status, ...headers] = head.split("\n");
    const [wantStatus, ...wantHeaders] = wantHead.trim().split("\n");
    return (
      status === wantStatus &&
      wantHeaders.every((w) => headers.some((h) => wildcard(w.toLowerCase()).test(h.toLowerCase()))) &&
      compare({ lang: "json", body: wantBody }, body)
    );
  }
  const want = expected.body.trimEnd().split("\n");
  const got = output.trimEnd().split("\n");
  return want.length === got.length && want.every((w, i) => wildcard(w).test(got[i]));
}

async function waitForHealth(url) {
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url}/health did not answer 200`);
}

/** Starts the built API on a database and queue prefix of its own; returns how to stop and clean up. */
async function startFreshApi(env = {}) {
  const port = await freePort();
  const suffix = `${process.pid}_${randomBytes(3).toString("hex")}`;
  const database = `otp_docs_${suffix}`;
  const prefix = `docs.${suffix}`;
  const child = spawn(process.execPath, [`${root}/services/api/dist/main.js`], {
    env: {
      ...process.env,
      ...env,
      PORT: String(port),
      PG_DATABASE: database,
      RABBITMQ_PREFIX: prefix,
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const exited = new Promise((resolve) => child.on("exit", resolve));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  try {
    await waitForHealth(url);
  } catch (error) {
    await stop();
    await cleanUp(database, prefix);
    throw error;
  }
  return {
    url,
    async stop() {
      await stop();
      await cleanUp(database, prefix);
    },
  };
}

/** Drops the database and the RabbitMQ names a fresh API created. */
async function cleanUp(database, prefix) {
  const pg = createRequire(`${root}/services/api/package.json`)("pg");
  const client = new pg.Client({
    host: process.env.PG_HOST ?? "localhost",
    port: Number(process.env.PG_PORT ?? 5432),
    user: process.env.PG_USER ?? "postgres",
    password: process.env.PG_PASSWORD ?? "",
    database: "postgres",
  });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  await client.end();
  const { deleteTopology, topology } = await import(`${root}/packages/broker/dist/index.js`);
  const amqp = createRequire(`${root}/packages/broker/package.json`)("amqplib");
  const connection = await amqp.connect(process.env.RABBITMQ_URL ?? "amqp://guest:guest@localhost:5672");
  await deleteTopology(await connection.createChannel(), topology(prefix));
  await connection.close();
}

/** Runs one document's examples against `url`; returns the number that did not answer as written. */
function runExamples(document, url) {
  const pairs = examples(examplesText(document));
  const where = document.section ? `${document.file} (${document.section})` : document.file;
  // A heading renamed or a block moved must not turn the check into one that checks nothing.
  if (pairs.length === 0) throw new Error(`no examples found in ${where}`);
  process.stdout.write(`${where}: ${pairs.length} examples\n`);
  const host = new URL(url).host;
  let failures = 0;
  for (const { command, expected } of pairs) {
    const output = execFileSync("bash", ["-c", command.replaceAll("localhost:3000", host)], {
      encoding: "utf8",
      timeout: 20_000,
    });
    if (compare(expected, output)) {
      process.stdout.write(`ok    ${command.split("\n")[0]}\n`);
    } else {
      failures++;
      process.stdout.write(`FAIL  ${command}\n  expected:\n${expected.body}\n  got:\n${output}\n`);
    }
  }
  return failures;
}

async function main() {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { url: { type: "string" } } });
  const unknown = positionals.filter((file) => !DOCUMENTS.some((d) => d.file === file));
  if (unknown.length > 0) {
    throw new Error(
      `no examples are run in ${unknown.join(", ")}; documents: ${DOCUMENTS.map((d) => d.file).join(", ")}`,
    );
  }
  const documents = positionals.length > 0 ? DOCUMENTS.filter((d) => positionals.includes(d.file)) : DOCUMENTS;
  let failures = 0;
  for (const document of documents) {
    const running = values.url ? { url: values.url, stop: async () => {} } : await startFreshApi(document.env);
    try {
      failures += runExamples(document, running.url);
    } finally {
      await running.stop();
    }
  }
  process.stdout.write(failures === 0 ? "every example answered as written\n" : `${failures} failed\n`);
  process.exit(failures === 0 ? 0 : 1);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
