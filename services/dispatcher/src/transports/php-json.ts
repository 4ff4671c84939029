/**
 * JSON exactly as PHP's `json_encode($value)` writes it with no flags, which is what Guzzle's
 * `json` request option used in the original product: `/` is escaped as `\/` and every non-ASCII
 * character as `\uXXXX` (UTF-16 code units, lower-case hex). Byte-compatible bodies mean a
 * Queue, SMS or Email service (or a test recording) cannot tell this service from the original product.
 */

/** An integer written as a bare JSON number from its decimal digits (chat ids may pass 2^53 one day). */
export class JsonInteger {
  readonly digits: string;
  constructor(digits: string) {
    if (!/^-?(0|[1-9]\d*)$/.test(digits)) throw new Error(`not a decimal integer: ${JSON.stringify(digits)}`);
    this.digits = digits;
  }
}

export type PhpJsonValue =
  | null
  | undefined
  | boolean
  | number
  | string
  | JsonInteger
  | readonly PhpJsonValue[]
  | { readonly [key: string]: PhpJsonValue };

const SHORT_ESCAPES: Record<string, string> = {
  '"': '\\"',
  "\\": "\\\\",
  "/": "\\/",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

/** Printable ASCII that needs no escape at all: the common case (ids, phones, URLs without `/`). */
const PLAIN = /^[\x20-\x21\x23-\x2e\x30-\x5b\x5d-\x7f]*$/;

function encodeString(s: string): string {
  // A native regex test is far cheaper than the loop below, which runs per character.
  if (PLAIN.test(s)) return `"${s}"`;
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s.charAt(i);
    const code = s.charCodeAt(i);
    const short = SHORT_ESCAPES[ch];
    if (short !== undefined) out += short;
    else if (code < 0x20 || code >= 0x80) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

export function phpJsonEncode(value: PhpJsonValue): string {
  if (value === null || value === undefined) return "null"; // PHP has no undefined: a missing field is null
  if (value instanceof JsonInteger) return value.digits;
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) throw new Error("PHP cannot encode NaN or Infinity");
      return JSON.stringify(value);
    case "string":
      return encodeString(value);
    default:
      break;
  }
  if (Array.isArray(value)) return `[${value.map((v) => phpJsonEncode(v)).join(",")}]`;
  const entries = Object.entries(value as { readonly [key: string]: PhpJsonValue });
  return `{${entries.map(([k, v]) => `${encodeString(k)}:${phpJsonEncode(v)}`).join(",")}}`;
}
