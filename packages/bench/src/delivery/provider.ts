/** The recording provider's HTTP control (see packages/testkit/src/recording-provider.ts). */
export async function control(providerUrl: string, path: string, method = "GET"): Promise<unknown> {
  const res = await fetch(`${providerUrl}${path}`, { method });
  return res.json();
}

/** Forgets every recorded request (and any rule or delay). */
export async function resetProvider(providerUrl: string): Promise<void> {
  await control(providerUrl, "/__control/reset", "POST");
}
