import type { Measurement } from "../load.js";

/** How the report writes numbers: whole numbers grouped, milliseconds to 3 significant places, ratios as %. */
export const int = (n: number) => Math.round(n).toLocaleString("en-US");
export const ms = (n: number) => (Number.isNaN(n) ? "–" : n < 10 ? n.toFixed(2) : n.toFixed(1));
export const pct = (a: number, b: number) => `${Math.round((100 * a) / b)}%`;
export const lat = (m: Measurement) => `${ms(m.p50)} / ${ms(m.p99)}`;
