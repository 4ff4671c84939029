import { fold } from "./echo-forms.js";
import { BODY_KEPT } from "./http.js";

/**
 * The shortest echo start that is cut from the end of a body the byte limit did not cut: such a
 * body ends where its provider ended it, which may be inside an echo it shortened itself (at most
 * two characters of a code then stay); one or two characters are too common an end (a `y`, a `7`)
 * to mean it, and masking them would garble ordinary answers.
 */
const MIN_TAIL_OF_WHOLE_BODY = 3;

/** What the end of a body may be the start of: strings in their written forms, and patterns anchored at the end. */
export interface Tails {
  /** The written forms of the code, texts, target and secrets (echo-forms.ts), folded. */
  readonly forms: readonly string[];
  /** Patterns that match only at the end of a text (echo-forms.ts, spacedTailPattern). */
  readonly patterns: readonly RegExp[];
}

/**
 * `text` split where the start of an echo that ends it begins: a body is kept to its first
 * BODY_KEPT bytes (http.ts), so a code, text, target or secret it echoes may stop anywhere inside,
 * and what is kept of it must go too. In a body that long (or one that ends in a character cut in
 * half) any start counts, down to one character: `"text":"9876` holds 4 digits of a 6-digit code.
 */
export function splitTail(text: string, tails: Tails): { readonly head: string; readonly cut: boolean } {
  const body = text.replace(/\uFFFD+$/, ""); // a multi-byte character cut in half by the byte limit
  const mayBeCut = body.length < text.length || Buffer.byteLength(text) >= BODY_KEPT;
  let start = formTailStart(fold(body), tails.forms);
  for (const pattern of tails.patterns) start = Math.min(start, pattern.exec(body)?.index ?? body.length);
  const kept = body.length - start;
  // Separators (a line end, a space, a dot) do not make a whole body's end look more like an echo.
  const meaningful = body.slice(start).replace(/[\s.,;:!?()[\]{}\-/\\+]/g, "").length;
  return kept > 0 && (mayBeCut || meaningful >= MIN_TAIL_OF_WHOLE_BODY)
    ? { head: body.slice(0, start), cut: true }
    : { head: text, cut: false };
}

/** Where the longest end of `body` that starts one of `forms` begins (`body.length` when none does); both folded. */
function formTailStart(body: string, forms: readonly string[]): number {
  let start = body.length;
  for (const form of forms) {
    const first = form.charCodeAt(0);
    for (let i = Math.max(0, body.length - form.length); i < start; i++) {
      if (body.charCodeAt(i) === first && form.startsWith(body.slice(i))) {
        start = i;
        break;
      }
    }
  }
  return start;
}
