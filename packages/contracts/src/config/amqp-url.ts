import { z } from "zod";

/**
 * RABBITMQ_URL: one `amqp://` or `amqps://` URL, or several separated by commas — the nodes of a
 * RabbitMQ cluster, tried in that order (each with its own credentials if need be; a comma inside a
 * user name or password is written `%2C`). Parsed into the list; an error never shows a password.
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
        ctx.addIssue({
          code: "custom",
          message: `must be an amqp:// or amqps:// URL, or several separated by commas (${where}${problem})`,
        });
        return z.NEVER;
      }
      return items as readonly string[];
    });
}

function problemOf(item: string): string | undefined {
  if (item === "") return "empty";
  let url: URL | undefined;
  try {
    url = new URL(item);
  } catch {}
  if (url === undefined) return `${shown(item)} is not a URL`;
  if (url.protocol !== "amqp:" && url.protocol !== "amqps:") return `${shown(item)} is not amqp:// or amqps://`;
  if (url.hostname === "") return `${shown(item)} has no host`;
  return undefined;
}

/** An item for an error message: without its password, or not at all when it cannot be told apart. */
function shown(item: string): string {
  try {
    if (new URL(item).host !== "") return `"${amqpAddress(item)}"`;
  } catch {}
  return item.includes("@") ? "a value (not shown: it may hold a password)" : `"${item}"`;
}

/**
 * An AMQP URL as logs and errors may show it: without the password and the query, e.g.
 * `amqp://otp@rabbit-2:5672/`.
 */
export function amqpAddress(url: string): string {
  try {
    const u = new URL(url);
    u.password = "";
    u.search = "";
    u.hash = "";
    return u.toString();
  } catch {
    return "(not a URL)";
  }
}
