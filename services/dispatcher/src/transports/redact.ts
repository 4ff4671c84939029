import { type Channel, type DeliveryContent, nationalDigitsOf } from "@otp/contracts";
import { fold, formsOf, spacedCharacters, spacedPattern, spacedTailPattern } from "./echo-forms.js";
import { splitTail } from "./echo-tail.js";
import type { ProviderCall } from "./render.js";

/** Cuts what must not be stored or logged out of a text (a provider's error body). */
export type Redactor = (text: string) => string;

const MASK = "***";

/**
 * What does not show, taken out before anything is looked for, since it would hide an echo: the
 * NULs of a UTF-16 body read as UTF-8 (one after every character, `4\u00008\u00002\u0000…`, which
 * no echo form allows; the later control-character pass, describeStatus, would make the digits
 * readable again), and invisible format characters (a zero-width space between digits). Any other
 * NUL, as in a binary error page, becomes a space.
 */
function visible(text: string): string {
  const withoutFormat = text.replace(FORMAT_CHARACTERS, "");
  return UTF16_SHAPE.test(withoutFormat) ? withoutFormat.replaceAll("\0", "") : withoutFormat.replaceAll("\0", " ");
}
const FORMAT_CHARACTERS = /\p{Cf}/gu;
const UTF16_SHAPE = /(?:[^\0]\0){4}/;

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
 * - the code, every text sent (the message, subject, text, html, as delivered with the code in
 *   them), the email or chat id and the secrets the call carries (secretsOf), each in every form a
 *   provider may write it back (echo-forms.ts: as JSON from the common encoders, URL-encoded,
 *   escaped twice) and in any letter case; the code with separators between its characters too;
 * - a phone's national digits with or without the country code, `+` and separators (so the
 *   country code at most stays);
 * - the start of any of these that the kept body ends with (echo-tail.ts);
 * all after removing what does not show (visible). Built on demand: only failed attempts need
 * it; and for texts as long as the longest seen, since no more of a sent text can be in one.
 */
export function redactorFor(echoable: Echoable): Redactor {
  let compiled: { readonly limit: number; readonly redact: Redactor } | undefined;
  return (raw) => {
    const text = visible(raw);
    if (compiled === undefined || text.length > compiled.limit) {
      const limit = text.length;
      compiled = { limit, redact: compile(echoable, limit) };
    }
    return compiled.redact(text);
  };
}

function compile(echoable: Echoable, limit: number): Redactor {
  const forms = new Set<string>();
  for (const value of echoedValues(echoable)) {
    for (const form of formsOf(value, limit)) forms.add(fold(form));
  }
  const spaced = [spacedCharacters(echoable.content.password), phoneDigits(echoable)].filter((c) => c.length > 0);
  const patterns = spaced.map(spacedPattern);
  const tails = { forms: [...forms], patterns: spaced.map(spacedTailPattern) };
  return (text) => {
    const { head, cut } = splitTail(text, tails);
    let out = maskForms(head, tails.forms);
    for (const pattern of patterns) out = out.replace(pattern, MASK);
    return cut ? out + MASK : out;
  };
}

/**
 * `text` with every place that one of `forms` (folded) covers masked, overlapping or touching ones
 * as one: a text and the code inside it go as one mask. Plain string search, not one regular
 * expression of them all: compiling that cost milliseconds per failed delivery.
 */
function maskForms(text: string, forms: readonly string[]): string {
  const folded = fold(text);
  const covered = new Uint8Array(text.length);
  for (const form of forms) {
    for (let at = folded.indexOf(form); at !== -1; at = folded.indexOf(form, at + 1)) {
      covered.fill(1, at, at + form.length);
    }
  }
  let out = "";
  for (let i = 0; i < text.length; ) {
    const from = i;
    while (i < text.length && covered[i] === covered[from]) i++;
    out += covered[from] ? MASK : text.slice(from, i);
  }
  return out;
}

/** The strings of a delivery that a provider may echo, as they were sent. */
function echoedValues({ channel, target, call, content, sent }: Echoable): string[] {
  const values = [content.password];
  for (const value of Object.values(call.json)) if (typeof value === "string" && value.length >= 4) values.push(value);
  if (channel === "email") values.push(target);
  // A chat id goes as a JSON number; a provider may write a group's without its sign.
  if (channel === "telegram") values.push(target, target.replace(/^-/, ""));
  for (const secret of [...secretsOf(call), ...(sent ? secretsOf(sent) : [])]) {
    if (secret.length >= MIN_SECRET) values.push(secret);
  }
  return values;
}

/** Every way of writing a phone contains its national digits, separators aside (even `\/`). */
function phoneDigits({ channel, target }: Echoable): string[] {
  return channel === "sms" || channel === "call" ? spacedCharacters(nationalDigitsOf(target)) : [];
}

/**
 * A secret shorter than this is left in the text: it would mask every such run of letters (a token
 * "t" every t), and it protects nothing anyway.
 */
const MIN_SECRET = 4;

/**
 * The secrets a call carries: its header values (telegram's X-Auth-Token, OTP_TELEGRAM_APP_TOKEN,
 * which queue mode puts in the task's body and direct mode sends as a header), and the credentials
 * of its URL (a provider URL with credentials: in the task's body too, and sent as a Basic
 * authorization, so that form as well). The username is one too when it comes alone: a URL may
 * carry its token as the username (`https://TOKEN@sms.example`, sent as Basic `TOKEN:`, http.ts);
 * beside a password it is a name (`apiuser`), which masked would garble ordinary answers.
 */
function secretsOf(call: Pick<ProviderCall, "url" | "headers">): string[] {
  const secrets = Object.values(call.headers ?? {});
  let url: URL;
  try {
    url = new URL(call.url);
  } catch {
    return secrets;
  }
  if (url.username || url.password) {
    const [username, password] = [decoded(url.username), decoded(url.password)];
    const basic = Buffer.from(`${username}:${password}`).toString("base64");
    secrets.push(url.password, password, basic);
    if (!url.password) secrets.push(url.username, username);
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
