import type { IncomingMessage } from "node:http";
import { flattenHeaders, parseJson } from "./http-helpers.js";

/** A request the recording provider received, as tests read it. */
export interface RecordedRequest {
  /** 1, 2, 3 … in arrival order. */
  readonly seq: number;
  readonly method: string;
  /** The path without the query string. */
  readonly path: string;
  readonly query: string;
  /** Header names in lower case; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  /** The body exactly as received (UTF-8). */
  readonly body: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly json: unknown;
  /** Epoch milliseconds at arrival. */
  readonly receivedAt: number;
  /** What it was answered: an HTTP status, or "reset" / "held" (the request was never answered). */
  answer?: number | "reset" | "held";
}

export function recordOf(seq: number, req: IncomingMessage, url: URL, body: string): RecordedRequest {
  return {
    seq,
    method: req.method ?? "GET",
    path: url.pathname,
    query: url.search,
    headers: flattenHeaders(req.headers),
    body,
    json: parseJson(body),
    receivedAt: Date.now(),
  };
}
