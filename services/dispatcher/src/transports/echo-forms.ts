import { phpJsonEncode } from "./php-json.js";

/**
 * The ways a provider may write back a string it was sent (redact.ts cuts each out of its error
 * bodies; the matching ignores letter case, so an escape's hex may be in either case), each cut
 * to its first `limit` characters (a body that long can hold no more of it):
 * - as it is;
 * - as JSON from the common encoders: JavaScript's; PHP's (`\/`, every non-ASCII character as
 *   `\uXXXX`) and PHP's with JSON_UNESCAPED_UNICODE (`\/` only); Python's `json.dumps` (every
 *   non-ASCII character as `\uXXXX`, `/` as is); Go's `encoding/json` (`<`, `>`, `&`, U+2028 and
 *   U+2029 as `\uXXXX`);
 * - URL-encoded: `encodeURIComponent`, and as a form (`+` for a space) — a query string, a form body;
 * - each JSON form escaped once more, as JSON and as PHP's JSON: a body quoted as a string inside
 *   JSON (a Queue service that reports the provider's answer it got).
 */
export function formsOf(whole: string, limit: number): string[] {
  // Escaping goes character by character, so the forms of a start are the starts of the forms:
  // each is cut to `limit` before it is escaped again, which would make it up to 7 times as long.
  const value = cutAt(whole, limit);
  const json = jsonEscaped(value);
  const jsonForms = [
    json,
    json.replaceAll("/", "\\/"),
    phpJsonEscaped(value),
    json.replace(/[^\x20-\x7e]/g, unicodeEscape),
    json.replace(/[<>&\u2028\u2029]/g, unicodeEscape),
  ].map((form) => cutAt(form, limit));
  const uri = uriEncoded(value);
  const urlForms =
    uri === undefined
      ? []
      : [uri, uri.replaceAll("%20", "+"), new URLSearchParams({ v: value }).toString().slice("v=".length)];
  const doubled = jsonForms.flatMap((form) => [jsonEscaped(form), phpJsonEscaped(form)]);
  const forms = [value, ...jsonForms, ...urlForms, ...doubled].map((form) => cutAt(form, limit));
  return [...new Set(forms)].filter((form) => form.length > 0);
}

/**
 * What may stand between the characters of a code or a phone number as a provider writes it:
 * spaces, dashes, dots, commas, brackets, slashes (`\/` too), `+`, and each of them URL-encoded
 * (`%20` … `%2F`). A voice provider spells a code out (`9 8 7 6 5 4`); phones come in every format.
 */
const SEPARATOR = String.raw`(?:[\s().,\-/\\+]|%2[0-9a-f])`;
const SEPARATOR_CHARACTER = /[\s().,\-/\\+]/;

/** The characters of a code or a phone number that a pattern matches, separators left out. */
export function spacedCharacters(value: string): string[] {
  return Array.from(value).filter((ch) => !SEPARATOR_CHARACTER.test(ch));
}

/** `chars` in order with any separators between them, anywhere in a text. */
export function spacedPattern(chars: readonly string[]): RegExp {
  return new RegExp(chars.map(escapeRegExp).join(`${SEPARATOR}*`), "gi");
}

/**
 * A start of `chars` (at least the first one, separators between and after) that ends a text: the
 * end of a body cut inside the code or the number. Nested as `a(?:S*b(?:S*c)?)?S*$`, so that only
 * a prefix matches and the first match found is the longest.
 */
export function spacedTailPattern(chars: readonly string[]): RegExp {
  let nested = "";
  for (let i = chars.length - 1; i >= 0; i--) {
    const ch = escapeRegExp(chars[i] ?? "");
    nested = nested === "" ? ch : `${ch}(?:${SEPARATOR}*${nested})?`;
  }
  return new RegExp(`${nested}${SEPARATOR}*$`, "i");
}

/**
 * `value` in lower case letter for letter, so that a place in it is the same place in `value`
 * (the few letters whose lower case is longer, like `İ`, stay as they are); every sigma as `σ`,
 * since lower-casing picks the final `ς` by what follows, which differs inside and outside an echo.
 */
export function fold(value: string): string {
  const lower = value.toLowerCase();
  const same =
    lower.length === value.length
      ? lower
      : Array.from(value, (ch) => (ch.toLowerCase().length === ch.length ? ch.toLowerCase() : ch)).join("");
  return same.replaceAll("ς", "σ");
}

/** `value` cut to at most `length` UTF-16 units, never inside a surrogate pair (URL encoding refuses half of one). */
export function cutAt(value: string, length: number): string {
  if (value.length <= length) return value;
  const cut = value.slice(0, length);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

function uriEncoded(value: string): string | undefined {
  try {
    return encodeURIComponent(value);
  } catch {
    return undefined; // a lone surrogate: no encoder writes it this way
  }
}

const unicodeEscape = (ch: string) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`;
const jsonEscaped = (value: string) => JSON.stringify(value).slice(1, -1);
const phpJsonEscaped = (value: string) => phpJsonEncode(value).slice(1, -1);
const escapeRegExp = (value: string) => value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
