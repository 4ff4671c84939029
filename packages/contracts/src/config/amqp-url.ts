import { z } from "zod";

/**
 * RABBITMQ_URL: one `amqp://` or `amqps://` URL, or several separated by commas — the nodes of a
 * RabbitMQ cluster, tried in that order (each with its own credentials if need be; a `@`, `/`,
 * `,`, `?` or `#` inside a user name or password is percent-encoded: `%40`, `%2F`, `%2C`, `%3F`,
 * `%23`). Parsed into the list; an error never shows a password.
 */
export function amqpUrlList(fallback: string) {
  return z
    .string()
    .trim()
    .default(fallback)
    .transform((v, ctx) => {
      const items = v.split(",").map((item) => item.trim());
      for (const [index, item] of items.entries()) {
        const problem = problemOf(item);
        if (problem === undefined) continue;
        const where = items.length === 1 ? "" : `item ${index + 1} of ${items.length}, `;
        // In a value with credentials (an `@`), an item that does not read as a URL most likely comes
        // of a password's raw character (a `,` splits its URL in two): say how to write one.
        const hint = v.includes("@") && UNREADABLE.includes(problem) ? `; ${ENCODE_HINT}` : "";
        ctx.addIssue({
          code: "custom",
          message: `must be an amqp:// or amqps:// URL, or several separated by commas (${where}${problem}${hint})`,
        });
        return z.NEVER;
      }
      return items as readonly string[];
    });
}

const NOT_A_URL = "not a URL";
const NOT_AMQP = "not an amqp:// or amqps:// URL";
/** What a password's raw `,` `:` or `@` can make of a URL (the ones that show nothing of it). */
const UNREADABLE: readonly string[] = [NOT_A_URL, NOT_AMQP];

const ENCODE_HINT = "a @ / , ? or # inside a user name or password is written %40 %2F %2C %3F %23";

/**
 * An `@` after the host: a password with a raw `/`, `?` or `#` in it, which ends the authority early
 * — `amqp://otp:8080/Secret@rabbit-1` parses as host `otp`, port `8080` (the password's start),
 * vhost `Secret@rabbit-1`. Connecting there would fail or, worse, log that vhost; refused instead.
 */
const RAW_AT = `has an @ after its host (${ENCODE_HINT})`;

/**
 * What is wrong with one item, or undefined. The item itself is never shown: a value that does not
 * parse, or parses without a host, may be anything, a password or part of one included; what does
 * parse with a host is shown by {@link amqpAddress} alone.
 */
function problemOf(item: string): string | undefined {
  if (item === "") return "empty";
  let url: URL | undefined;
  try {
    url = new URL(item);
  } catch {}
  if (url === undefined) return NOT_A_URL;
  const amqp = url.protocol === "amqp:" || url.protocol === "amqps:";
  if (url.host === "") return amqp ? "no host" : NOT_AMQP;
  if (hasAtAfterHost(url)) return RAW_AT;
  if (!amqp) return `"${amqpAddress(item)}" is not amqp:// or amqps://`;
  return undefined;
}

/** A percent-encoded `@` (`%40`) is not one: WHATWG URL parsing leaves a raw one raw in all three. */
function hasAtAfterHost(url: URL): boolean {
  return `${url.pathname}${url.search}${url.hash}`.includes("@");
}

/**
 * An AMQP URL as logs and errors may show it: without the password and the query, e.g.
 * `amqp://otp@rabbit-2:5672/`. A URL with an `@` after its host is not shown at all: its "host" and
 * "port" may be the user name and the start of a password (see {@link RAW_AT}).
 */
export function amqpAddress(url: string): string {
  try {
    const u = new URL(url);
    if (hasAtAfterHost(u)) return "(not shown: an @ after the host, a password's maybe)";
    u.password = "";
    u.search = "";
    u.hash = "";
    return u.toString();
  } catch {
    return "(not a URL)";
  }
}
