// Waiting for a condition with a deadline (never a bare sleep): polls `fn` until it returns a
// value; errors count as "not yet", and the last check's error, if it failed, is reported when the
// deadline passes (an earlier error would mislead: the member may have answered since).
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  ms = 20_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
      last = undefined;
    } catch (e) {
      last = e;
    }
    await delay(everyMs);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** A pause inside a paced loop (load, faults, retries); to wait for a condition, use waitFor. */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
