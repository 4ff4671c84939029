import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ENV_VARIABLES, parseConfig } from "@otp/contracts";
import { createPool } from "@otp/db";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

/**
 * Docker is not available where the tests run, so the Dockerfile and the compose file are kept
 * correct by reading them: what they reference must exist, what they configure must parse.
 */

const root = join(import.meta.dirname, "..");
const read = (path: string) => readFileSync(join(root, path), "utf8");

interface ComposeService {
  image?: string;
  hostname?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  profiles?: string[];
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
  healthcheck?: { test: string[] };
  volumes?: string[];
  networks?: { default?: { aliases?: string[] } };
}

const composeText = read("docker-compose.yml");
const compose = parse(composeText, { merge: true }) as { services: Record<string, ComposeService> };
const services = compose.services;
const service = (name: string): ComposeService => {
  const s = services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
};

/** The package.json of each workspace package under `dir`. */
const packageManifests = (dir: string) =>
  readdirSync(join(root, dir))
    .map((name) => `${dir}/${name}/package.json`)
    .filter((path) => existsSync(join(root, path)));

/** `node <file>` commands must name a file the build produces from a source in this repo. */
function expectBuiltEntry(command: string[] | undefined) {
  expect(command?.[0]).toBe("node");
  const entry = command?.[1] ?? "";
  expect(entry).toMatch(/\/dist\/.+\.js$/);
  const source = entry.replace("/dist/", "/src/").replace(/\.js$/, ".ts");
  expect(existsSync(join(root, source)), `${entry} is built from ${source}`).toBe(true);
}

describe("docker-compose.yml", () => {
  it("runs PostgreSQL and RabbitMQ (with the management UI) with volumes and health checks", () => {
    for (const name of ["postgres", "rabbitmq"]) {
      expect(service(name).volumes?.length).toBeGreaterThan(0);
      expect(service(name).healthcheck?.test.length).toBeGreaterThan(0);
    }
    expect(service("rabbitmq").image).toMatch(/management/);
    // RabbitMQ keeps its data under rabbit@<hostname>: a recreated container must find it again.
    expect(service("rabbitmq").hostname).toBeTruthy();
  });

  it("publishes the management UI and the sandbox's recordings (codes) on this machine only", () => {
    const published = Object.entries(services).flatMap(([name, s]) =>
      (s.ports ?? []).filter((p) => !p.startsWith("127.0.0.1:")).map((p) => `${name} ${p}`),
    );
    // Only the API's port (compose's `$` + `{OTP_HTTP_PORT:-80}:80`) faces the network.
    expect(published).toEqual([`api ${"$"}{OTP_HTTP_PORT:-80}:80`]);
  });

  it("runs PostgreSQL with settings it accepts that find a client gone mid-transaction within minutes", async () => {
    // `postgres -c name=value …`: a misspelt name would stop the server at start, so each one is
    // set, as given, on the real PostgreSQL the tests use.
    const command = service("postgres").command ?? [];
    expect(command[0]).toBe("postgres");
    const settings = Object.fromEntries(
      command.flatMap((arg, i) => (command[i - 1] === "-c" ? [arg.split("=", 2) as [string, string]] : [])),
    );
    expect(Object.keys(settings).sort()).toEqual([
      "client_connection_check_interval",
      "idle_in_transaction_session_timeout",
      "tcp_keepalives_count",
      "tcp_keepalives_idle",
      "tcp_keepalives_interval",
    ]);
    // The server's own database: the settings are the session's, and the service's `otp` database
    // exists only once something has started against it.
    const parsed = parseConfig({ PG_DATABASE: "postgres" });
    if (!parsed.ok) throw new Error(parsed.errors.join("\n"));
    const pool = createPool(parsed.config.pg, { applicationName: "deploy-test", onError: () => {}, max: 1 });
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      for (const [name, value] of Object.entries(settings)) {
        await client.query("SELECT set_config($1, $2, true)", [name, value]);
      }
      const idle = await client.query<{ s: string }>(
        "SELECT (current_setting('tcp_keepalives_idle')::int + current_setting('tcp_keepalives_interval')::int * current_setting('tcp_keepalives_count')::int)::text AS s",
      );
      // Found within two minutes; the idle-transaction backstop above a relay pass's longest wait (60 s).
      expect(Number(idle.rows[0]?.s)).toBeLessThanOrEqual(120);
      const timeout = await client.query<{ ms: string }>(
        "SELECT (extract(epoch FROM current_setting('idle_in_transaction_session_timeout')::interval) * 1000)::bigint::text AS ms",
      );
      expect(Number(timeout.rows[0]?.ms)).toBeGreaterThan(60_000);
    } finally {
      await client.query("ROLLBACK").catch(() => {});
      client.release();
      await pool.end();
    }
  });

  it("serves the API on port 80, as the original image did, once its dependencies are healthy", () => {
    const api = service("api");
    expect(api.ports?.some((p) => p.endsWith(":80"))).toBe(true);
    expect(api.environment?.PORT).toBe("80");
    expectBuiltEntry(api.command);
    expect(api.depends_on).toEqual({
      postgres: { condition: "service_healthy" },
      rabbitmq: { condition: "service_healthy" },
    });
  });

  it("runs replicated dispatchers, and shows dedicated ones per channel", () => {
    const dispatcher = service("dispatcher");
    expectBuiltEntry(dispatcher.command);
    expect(dispatcher.deploy?.replicas).toBeGreaterThanOrEqual(2);
    expect(dispatcher.depends_on?.rabbitmq?.condition).toBe("service_healthy");
    const perChannel = Object.values(services).filter((s) => s.profiles?.includes("per-channel"));
    expect(perChannel.length).toBeGreaterThanOrEqual(2);
    const channels = perChannel.flatMap((s) => (s.environment?.DISPATCHER_CHANNELS ?? "").split(","));
    expect(channels.sort()).toEqual(["call", "email", "sms", "telegram", "webhook"]);
    for (const s of [dispatcher, ...perChannel]) expect(s.healthcheck?.test.join(" ")).toContain(":3001/health");
  });

  it("gives the services a configuration that parses", () => {
    for (const name of ["api", "dispatcher", "dispatcher-sms", "dispatcher-email-telegram", "dispatcher-webhook"]) {
      const result = parseConfig(service(name).environment ?? {});
      expect(result.ok ? [] : result.errors, name).toEqual([]);
    }
  });

  it("lists every variable the services read, with its default or commented", () => {
    const missing = ENV_VARIABLES.filter((v) => !new RegExp(`^\\s*#?\\s*${v}:`, "m").test(composeText));
    expect(missing).toEqual([]);
  });

  it("has a test-deps profile: just PostgreSQL and RabbitMQ, on the ports and users the tests use with no variable set", () => {
    const testDeps = Object.entries(services).filter(([, s]) => s.profiles?.includes("test-deps"));
    // restartRabbitMq (@otp/testkit) runs rabbitmqctl in test-rabbitmq when there is no local one.
    expect(testDeps.map(([name]) => name).sort()).toEqual(["test-postgres", "test-rabbitmq"]);
    const parsed = parseConfig({});
    if (!parsed.ok) throw new Error(parsed.errors.join("\n"));
    const { pg, amqp } = parsed.config;
    const amqpUrl = new URL(amqp.urls[0] as string);

    const postgres = service("test-postgres");
    expect(postgres.image).toMatch(/^postgres:/);
    expect(postgres.ports).toEqual([`127.0.0.1:${pg.port}:5432`]);
    expect(postgres.environment?.POSTGRES_USER).toBe(pg.user);
    expect(pg.password).toBe("");
    expect(postgres.environment?.POSTGRES_HOST_AUTH_METHOD).toBe("trust");
    expect(postgres.healthcheck?.test.length).toBeGreaterThan(0);

    const rabbitmq = service("test-rabbitmq");
    expect(rabbitmq.image).toMatch(/^rabbitmq:/);
    expect(rabbitmq.ports).toEqual([`127.0.0.1:${amqpUrl.port}:5672`]);
    expect(rabbitmq.environment?.RABBITMQ_DEFAULT_USER).toBe(decodeURIComponent(amqpUrl.username));
    expect(rabbitmq.environment?.RABBITMQ_DEFAULT_PASS).toBe(decodeURIComponent(amqpUrl.password));
    // The tests connect from the host, not from inside the container: guest must be allowed there.
    expect(rabbitmq.environment?.RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS).toBe("-rabbit loopback_users []");
    expect(rabbitmq.healthcheck?.test.length).toBeGreaterThan(0);

    // Nothing else starts with them, and nothing depends on them.
    for (const s of Object.values(services)) expect(Object.keys(s.depends_on ?? {})).not.toContain("test-postgres");
    expect(read("package.json")).toContain(
      "docker compose --profile test-deps up -d --wait test-postgres test-rabbitmq",
    );
  });

  it("has a sandbox profile standing in for the Queue, SMS, Email and Telegram services", () => {
    const sandbox = Object.values(services).filter((s) => s.profiles?.includes("sandbox"));
    const aliases = sandbox.flatMap((s) => s.networks?.default?.aliases ?? []);
    expect(aliases.sort()).toEqual(["email", "queue", "sms", "telegram"]);
    for (const s of sandbox) expectBuiltEntry(s.command);
  });

  it("has its stand-ins listen beyond the container's loopback, where the dispatchers and the host reach them", () => {
    // The recording provider listens on 127.0.0.1 unless told otherwise: inside a container that
    // is unreachable from the other containers and from the published port.
    const sandbox = Object.values(services).filter((s) => s.profiles?.includes("sandbox"));
    for (const s of sandbox) expect(s.command?.[(s.command?.indexOf("--host") ?? -1) + 1]).toBe("0.0.0.0");
  });
});

describe("Dockerfile", () => {
  const dockerfile = read("Dockerfile");
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const final = stages.at(-1) ?? "";

  it("is multi-stage and runs as a non-root user", () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    expect(final).toMatch(/^USER (?!root)\w+/m);
  });

  it("ships production dependencies only, installed from the lockfile", () => {
    expect(dockerfile).toMatch(/--frozen-lockfile --prod/);
  });

  it("runs the API by default and exposes port 80", () => {
    const cmd = final.match(/^CMD (.+)$/m)?.[1];
    expectBuiltEntry(JSON.parse(cmd ?? "[]"));
    expect(final).toMatch(/^EXPOSE 80\b/m);
  });

  it("logs JSON lines: pino-pretty is a development dependency that only `pnpm dev` uses", () => {
    const manifests = ["package.json", ...["packages", "services"].flatMap((dir) => packageManifests(dir))];
    for (const manifest of manifests) {
      const { dependencies = {} } = JSON.parse(read(manifest)) as { dependencies?: Record<string, string> };
      expect(Object.keys(dependencies), manifest).not.toContain("pino-pretty");
    }
    expect((JSON.parse(read("package.json")) as { devDependencies: object }).devDependencies).toHaveProperty(
      "pino-pretty",
    );
    expect(read("scripts/dev.mjs")).toContain('from "pino-pretty"');
  });

  it("pins the same pnpm as package.json and CI", () => {
    const pinned = (JSON.parse(read("package.json")) as { packageManager: string }).packageManager.split("@")[1];
    expect(dockerfile).toContain(`pnpm@${pinned}`);
    expect(read(".ci/run")).toContain(`PNPM_VERSION=${pinned}`);
  });
});

describe("docs/configuration.md", () => {
  // One table row per variable: | `NAME` | default | read by | meaning |
  const rows = [...read("docs/configuration.md").matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((m) => m[1]);

  it("has a row for every variable the services read", () => {
    expect(ENV_VARIABLES.filter((v) => !rows.includes(v))).toEqual([]);
  });

  it("has no row for a variable the services do not read, nor two rows for one", () => {
    const known: readonly string[] = ENV_VARIABLES;
    expect(rows.filter((v) => v === undefined || !known.includes(v))).toEqual([]);
    expect(rows.length).toBe(new Set(rows).size);
  });
});
