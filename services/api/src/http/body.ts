import type { IncomingMessage } from "node:http";
import type { Context } from "hono";
import { ApiError } from "../api-error.js";
import { fromBrowser } from "./cross-site.js";
import type { AppEnv } from "./env.js";
import { requestHeader } from "./headers.js";
import { assertJsonText, decodeUtf8, notUtf8, parseForm } from "./strict-text.js";

/** Bodies over 64 KiB are refused with 413 (docs/api.md). */
export const MAX_BODY_BYTES = 64 * 1024;

const tooLarge = () => new ApiError("payload_too_large", `The request body is larger than ${MAX_BODY_BYTES} bytes`);

/**
 * The raw body of any request, GET included. @hono/node-server builds a fetch `Request`, and the
 * Fetch API forbids a body on GET, so the original product clients' `GET /sms/check` with a JSON body is read
 * from Node's IncomingMessage directly (for every method: one code path, no web stream in between).
 * Under `app.request()` (tests) there is no IncomingMessage and the Request is read instead.
 */
export async function readRawBody(c: Context<AppEnv>): Promise<Buffer | undefined> {
  const incoming = c.env?.incoming;
  if (incoming) return readIncoming(incoming);
  if (c.req.method === "GET" || c.req.method === "HEAD") return undefined;
  if (Number(c.req.header("content-length") ?? 0) > MAX_BODY_BYTES) throw tooLarge();
  const body = Buffer.from(await c.req.arrayBuffer());
  if (body.length > MAX_BODY_BYTES) throw tooLarge();
  return body;
}

function readIncoming(incoming: IncomingMessage): Promise<Buffer | undefined> {
  const length = incoming.headers["content-length"];
  // Without a length or a chunked encoding an HTTP/1.1 request has no body: do not wait for one.
  if (length === undefined && incoming.headers["transfer-encoding"] === undefined) return Promise.resolve(undefined);
  if (length !== undefined && Number(length) > MAX_BODY_BYTES) return Promise.reject(tooLarge());
  if (length === "0" || incoming.readableEnded) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      incoming.off("data", onData);
      incoming.off("end", onEnd);
      incoming.off("error", onError);
      incoming.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        cleanup();
        incoming.resume(); // discard the rest; the 413 closes the connection
        reject(tooLarge());
      } else chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = () => {
      cleanup();
      reject(new ApiError("bad_request", "The request body could not be read"));
    };
    const onClose = () => {
      if (!incoming.complete) onError();
    };
    incoming.on("data", onData);
    incoming.on("end", onEnd);
    incoming.on("error", onError);
    incoming.on("close", onClose);
  });
}

/** U+FFFD as UTF-8: a body may hold it on purpose. */
const REPLACEMENT = Buffer.from("\uFFFD");

const looksLikeJson = (text: string) => /^\s*[{[]/.test(text);

function parseJson(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // Not the parser's message: it quotes the text around the fault, which may be a code or a target.
    const at = /at position (\d+)/.exec((error as Error).message)?.[1];
    throw new ApiError("bad_request", `Malformed JSON body${at === undefined ? "" : ` at position ${at}`}`);
  }
  assertJsonText(text, value);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ApiError("bad_request", "The JSON body must be an object");
  }
  return value as Record<string, unknown>;
}

async function parseMultipart(raw: Buffer, contentType: string): Promise<Record<string, unknown>> {
  let form: FormData;
  try {
    form = await new Response(raw, { headers: { "content-type": contentType } }).formData();
  } catch {
    throw new ApiError("bad_request", "Malformed multipart body");
  }
  const fields: Record<string, string> = {};
  // A repeated field: the last one, as in every other kind of parameters (parseForm).
  for (const [key, value] of form) if (typeof value === "string") fields[key] = value;
  // The parser decodes fields leniently: a U+FFFD the body did not hold was a byte that is not UTF-8.
  if (Object.values(fields).some((v) => v.includes("\uFFFD")) && !raw.includes(REPLACEMENT))
    throw notUtf8("request body");
  return fields;
}

/**
 * `application/json`, `application/…+json`, `text/json`: the media type itself, before any
 * parameter — `text/plain; x=json` is a type a page may send cross-site without a preflight.
 */
function isJsonMediaType(lowerCaseContentType: string): boolean {
  const media = lowerCaseContentType.split(";", 1)[0]?.trim() ?? "";
  return media === "application/json" || media === "text/json" || media.endsWith("+json");
}

/**
 * The body's parameters. JSON when declared so, and also, for requests not sent by a browser, when
 * undeclared or declared as a form but shaped like JSON (`curl -d '{...}'` without a Content-Type
 * header sends a "form"); otherwise a form. Read once per request.
 */
export async function readBody(c: Context<AppEnv>): Promise<Record<string, unknown> | undefined> {
  const cached = c.get("body");
  if (cached !== undefined) return cached ?? undefined;
  const raw = await readRawBody(c);
  let body: Record<string, unknown> | null = null;
  if (raw && raw.length > 0) {
    const contentType = requestHeader(c, "content-type") ?? "";
    const type = contentType.toLowerCase();
    // The boundary is case-sensitive: the header as sent, not lower-cased.
    if (type.startsWith("multipart/form-data")) body = await parseMultipart(raw, contentType);
    else {
      const text = decodeUtf8(raw, "request body");
      // JSON by its shape only for backends (`curl -d '{...}'` labels it a form): a browser's
      // `text/plain` or form body is sent cross-site without a preflight, so it must not become JSON.
      const jsonByShape = !fromBrowser((name) => requestHeader(c, name)) && looksLikeJson(text);
      if (isJsonMediaType(type) || jsonByShape) body = text.trim() === "" ? null : parseJson(text);
      else body = parseForm(text, "request body");
    }
  }
  c.set("body", body);
  return body ?? undefined;
}
