import { validationMessage } from "@otp/contracts";
import type { Context } from "hono";
import type { z } from "zod";
import { ApiError } from "../api-error.js";
import { readBody } from "./body.js";
import type { AppEnv } from "./env.js";
import { parseForm } from "./strict-text.js";

/** The query string and the body together; a parameter in both takes the body's value, as in perfumerlabs/otp. */
export async function readParams(c: Context<AppEnv>): Promise<Record<string, unknown>> {
  const query = queryOf(c.req.url);
  const body = await readBody(c);
  return foldMetadata(body ? { ...query, ...body } : query);
}

/**
 * The query string's parameters, read as a form body is (docs/api.md, "Conventions"): a repeated
 * one takes its last value, as PHP reads it, and escaped bytes must be UTF-8 (400 otherwise).
 */
function queryOf(url: string): Record<string, string> {
  const hash = url.indexOf("#");
  const target = hash === -1 ? url : url.slice(0, hash);
  const start = target.indexOf("?");
  return start === -1 ? {} : parseForm(target.slice(start + 1), "query string");
}

const METADATA_FIELD = /^metadata\[([^[\]]*)\]$/;

/**
 * A form's (or query string's) `metadata[key]=value` fields as the `metadata` object a JSON body
 * gives (docs/lifecycle.md, "Metadata"), as PHP reads such fields. Given both ways, or nested, it
 * is refused rather than guessed.
 */
function foldMetadata(params: Record<string, unknown>): Record<string, unknown> {
  const fields = Object.keys(params).filter((key) => key.startsWith("metadata["));
  if (fields.length === 0) return params;
  if (params.metadata !== undefined) {
    throw new ApiError("validation", '"metadata" must be given once: as an object, or as metadata[key] fields');
  }
  const folded: Record<string, unknown> = { ...params };
  const entries: [string, unknown][] = [];
  for (const field of fields) {
    const key = METADATA_FIELD.exec(field)?.[1];
    if (key === undefined) throw new ApiError("validation", '"metadata" fields must be metadata[key]=value');
    entries.push([key, folded[field]]);
    delete folded[field];
  }
  // Own properties whatever the key, as JSON.parse makes them: `metadata[key] = …` would take the
  // key `__proto__` for the object's prototype and drop the pair without a word.
  folded.metadata = Object.fromEntries(entries);
  return folded;
}

/** Reads and validates the parameters; a failure is a 400 `validation` naming the first problem. */
export async function parseParams<T extends z.ZodType>(c: Context<AppEnv>, schema: T): Promise<z.output<T>> {
  const result = schema.safeParse(await readParams(c));
  if (!result.success) throw new ApiError("validation", validationMessage(result.error));
  return result.data;
}
