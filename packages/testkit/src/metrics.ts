/**
 * The value of one sample in a Prometheus text exposition (what GET /metrics answers), or 0 when
 * the series is absent (a counter not yet incremented). `labels` must match exactly, in any order.
 * Tests read a counter before and after what they do and compare the two, so they depend on no
 * other test.
 */
export function metricValue(text: string, name: string, labels: Readonly<Record<string, string>> = {}): number {
  const wanted = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(",");
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const got = [...(match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)]
      .map((m) => `${m[1]}="${m[2]}"`)
      .sort()
      .join(",");
    if (got === wanted) return Number(match[3]);
  }
  return 0;
}
