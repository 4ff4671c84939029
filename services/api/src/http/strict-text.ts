import { ApiError } from "../api-error.js";

/**
 * What a client sent as text, read strictly (docs/api.md, "Conventions"): a lenient decoding turns
 * what is not text into U+FFFD, and a code or a message would then be stored and sent as something
 * the client never wrote — and two different codes would become one. The body and the query string
 * follow the same rule; `where` names which of them broke it.
 */
export type TextSource = "request body" | "query string";

const utf8 = new TextDecoder("utf-8", { fatal: true });

export const notUtf8 = (where: TextSource) => new ApiError("bad_request", `The ${where} is not valid UTF-8`);

/** `raw` as text, refused when it is not UTF-8. */
export function decodeUtf8(raw: Buffer, where: TextSource): string {
  try {
    return utf8.decode(raw);
  } catch {
    throw notUtf8(where);
  }
}

/**
 * A form's (or a query string's) fields, the last of a repeated one. Read by hand rather than by
 * URLSearchParams or Hono's `queries()`, which decode percent-escaped bytes leniently:
 * `message=%CA%EE%E4` (a Windows-1251 form) would be stored and sent as U+FFFD, or as the escapes
 * themselves. Here escaped bytes must be UTF-8 too.
 */
export function parseForm(text: string, where: TextSource): Record<string, string> {
  const fields: [string, string][] = [];
  for (const pair of text.split("&")) {
    if (pair === "") continue;
    const at = pair.indexOf("=");
    const name = formDecode(at === -1 ? pair : pair.slice(0, at), where);
    const value = at === -1 ? "" : formDecode(pair.slice(at + 1), where);
    // A field without a name (`=x`) is dropped, as PHP drops it.
    if (name !== "") fields.push([name, value]);
  }
  return Object.fromEntries(fields);
}

/** `+` as a space, `%XX` as a byte (a `%` without two hex digits as itself, as browsers read it), then UTF-8. */
function formDecode(part: string, where: TextSource): string {
  if (!part.includes("%") && !part.includes("+")) return part;
  const tokens = part.replaceAll("+", " ").split(/(%[0-9a-fA-F]{2})/);
  const bytes = tokens.map((token) =>
    /^%[0-9a-fA-F]{2}$/.test(token) ? Buffer.from([Number.parseInt(token.slice(1), 16)]) : Buffer.from(token),
  );
  return decodeUtf8(Buffer.concat(bytes), where);
}

/** A `\uD800`–`\uDFFF` escape, the only way a JSON text (already UTF-8) can hold a lone surrogate. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/** A surrogate that is not half of a pair: with the `u` flag a pair is one code point, not `Cs`. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Refuses a parsed JSON body that holds a lone surrogate (`"\uD800"`, valid JSON but not text: it
 * would be stored and sent as U+FFFD). Only a body with such an escape is walked, and without
 * recursion, so a deeply nested one cannot exhaust the stack.
 */
export function assertJsonText(text: string, value: unknown): void {
  if (!SURROGATE_ESCAPE.test(text)) return;
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item === "string") {
      if (LONE_SURROGATE.test(item)) throw unpairedSurrogate();
    } else if (typeof item === "object" && item !== null) {
      for (const [key, child] of Object.entries(item)) {
        if (LONE_SURROGATE.test(key)) throw unpairedSurrogate();
        pending.push(child);
      }
    }
  }
}

const unpairedSurrogate = () =>
  new ApiError(
    "bad_request",
    "The JSON body holds a \\u escape of a lone surrogate (\\uD800 to \\uDFFF), which is not text",
  );
