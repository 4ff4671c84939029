import type { z } from "zod";

/**
 * One human sentence for a rejected request: the first problem, in the order the parameters are
 * declared (the original product stopped at the first missing parameter too). Problems inside arrays say where:
 * `"rate" must be an integer (at phones[1].rate)`.
 */
export function validationMessage(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "Invalid request";
  const path = issue.path;
  const nested = path.length > 1;
  if (!nested) {
    if (issue.message.startsWith('"')) return issue.message;
    const name = path[0];
    return name === undefined ? issue.message : `"${String(name)}" ${issue.message}`;
  }
  const where = path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("");
  return `${issue.message} (at ${where})`;
}
