import { type Channel, type DeliveryContent, nationalDigitsOf } from "@otp/contracts";
import { phpJsonEncode } from "./php-json.js";
import type { ProviderCall } from "./render.js";

/** Cuts what must not be stored or logged out of a text (a provider's error body). */
export type Redactor = (text: string) => string;

const MASK = "***";

/**
 * The shortest start of a text that is cut when a body ends with it: a body is kept to its first
 * bytes only, so a text it echoes may be cut short there. Shorter starts are too common to mean it.
 */
const MIN_TAIL = 8;

/** What a provider's error body might echo, from the sent call: the code, the texts, the target, the secrets. */
export interface Echoable {
  readonly channel: Channel;
  readonly target: string;
  readonly call: ProviderCall;
  readonly content: DeliveryContent;
  /** Where the call was POSTed when not straight to its provider (queue mode: OTP_QUEUE_URL), and how. */
  readonly sent?: { readonly url: string; readonly headers?: Readonly<Record<string, string>> | undefined };
}

/**
 * The redactor of one delivery's error bodies, for `last_error`, the dead-letter headers and the
 * logs (docs/security.md, "Logs"). It cuts out:
 * - the code and every text sent (the message, subject, text, html, as delivered with the code in
 *   them), each as it is, JSON-escaped and PHP-JSON-escaped (`\/`, `\uXXXX`), in any letter case,
 *   and the start of one that the kept body ends with;
 * - the target in every form: a phone's national digits with or without the country code, `+`
 *   and separators (so the country code at most stays); the chat id; the email, escaped and
 *   URL-encoded too;
 * - the secrets the call carries (secretsOf), in the same forms and URL-encoded: a Queue service
 *   that refuses a task may echo it, and the task's body holds them.
 * Longest first, since a text holds the code it carries. Built on demand: only failed attempts
 * need it.
 */
export function redactorFor(echoable: Echoable): Redactor {
  let compiled: Redactor | undefined;
  return (text) => {
    compiled ??= compile(echoable);
    return compiled(text);
  };
}

function compile({ channel, target, call, content, sent }: Echoable): Redactor {
  const literals = new Set<string>();
  const addLiteral = (value: string) => {
    for (const form of [value, jsonEscaped(value), phpJsonEscaped(value)]) if (form.length > 0) literals.add(form);
  };
  addLiteral(content.password);
  for (const value of Object.values(call.json)) if (typeof value === "string" && value.length >= 4) addLiteral(value);
  for (const secret of [...secretsOf(call), ...(sent ? secretsOf(sent) : [])]) {
    if (secret.length < MIN_SECRET) continue;
    addLiteral(secret);
    literals.add(encodeURIComponent(secret));
  }
  if (channel === "email") {
    addLiteral(target);
    literals.add(encodeURIComponent(target));
  }
  const ordered = [...literals].sort((a, b) => b.length - a.length);
  const targetPattern = targetPatternOf(channel, target);
  return (text) => {
    let out = text;
    for (const literal of ordered) {
      if (literal.length <= out.length) out = out.replace(new RegExp(escapeRegExp(literal), "gi"), MASK);
      out = cutTail(out, literal);
    }
    return targetPattern ? out.replace(targetPattern, MASK) : out;
  };
}

/**
 * A secret shorter than this is left in the text: it would mask every such run of letters (a token
 * "t" every t), and it protects nothing anyway.
 */
const MIN_SECRET = 4;

/**
 * The secrets a call carries: its header values (telegram's X-Auth-Token, OTP_TELEGRAM_APP_TOKEN,
 * which queue mode puts in the task's body and direct mode sends as a header), and the password
 * of its URL (a provider URL with credentials: in the task's body too, or sent as a Basic
 * authorization, so that form as well).
 */
function secretsOf(call: Pick<ProviderCall, "url" | "headers">): string[] {
  const secrets = Object.values(call.headers ?? {});
  let url: URL;
  try {
    url = new URL(call.url);
  } catch {
    return secrets;
  }
  if (url.password) {
    const password = decoded(url.password);
    const basic = Buffer.from(`${decoded(url.username)}:${password}`).toString("base64");
    secrets.push(url.password, password, basic);
  }
  return secrets;
}

/** A URL part decoded as http.ts sends it; as written when it is not valid percent-encoding. */
function decoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/** The pattern of a phone or chat id target in a text; an email is cut as a literal. */
function targetPatternOf(channel: Channel, target: string): RegExp | undefined {
  if (channel === "email") return undefined;
  if (channel === "telegram") return /^-?\d+$/.test(target) ? new RegExp(escapeRegExp(target), "g") : undefined;
  // Every way of writing a phone contains its national digits, separators aside (even `\/`).
  const digits = nationalDigitsOf(target);
  return digits.length > 0 ? new RegExp(digits.split("").join(String.raw`[\s().\-/\\]*`), "g") : undefined;
}

/** `text` with its end cut when it is the start of `literal` (a body kept short, cut inside an echo). */
function cutTail(text: string, literal: string): string {
  const body = text.replace(/\uFFFD+$/, ""); // a multi-byte character cut in half by the byte limit
  // In any letter case where lower-casing keeps the lengths (it does but for a few letters).
  const [haystack, needle] =
    body.toLowerCase().length === body.length && literal.toLowerCase().length === literal.length
      ? [body.toLowerCase(), literal.toLowerCase()]
      : [body, literal];
  for (let k = Math.min(needle.length - 1, haystack.length); k >= MIN_TAIL; k--) {
    if (haystack.endsWith(needle.slice(0, k))) return body.slice(0, body.length - k) + MASK;
  }
  return text;
}

const jsonEscaped = (value: string) => JSON.stringify(value).slice(1, -1);
const phpJsonEscaped = (value: string) => phpJsonEncode(value).slice(1, -1);
const escapeRegExp = (value: string) => value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
