import { validationMessage } from "@otp/contracts";
import type { Context } from "hono";
import type { z } from "zod";
import { ApiError } from "../api-error.js";
import { readBody } from "./body.js";
import type { AppEnv } from "./env.js";

/** The query string and the body together; a parameter in both takes the body's value, as in perfumerlabs/otp. */
export async function readParams(c: Context<AppEnv>): Promise<Record<string, unknown>> {
  const query = c.req.query();
  const body = await readBody(c);
  return body ? { ...query, ...body } : query;
}

/** Reads and validates the parameters; a failure is a 400 `validation` naming the first problem. */
export async function parseParams<T extends z.ZodType>(c: Context<AppEnv>, schema: T): Promise<z.output<T>> {
  const result = schema.safeParse(await readParams(c));
  if (!result.success) throw new ApiError("validation", validationMessage(result.error));
  return result.data;
}
