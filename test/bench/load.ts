// A closed-loop load generator: `clients` workers, each sending its next request as soon as the
// previous one is answered, for a fixed time (runClosedLoop, shared with grpc-load.ts), and its
// HTTP form (runLoad): keep-alive connections, one per worker; https:// endpoints with `tls`.
import { Agent, request } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { ConnectionOptions } from 'node:tls';

export interface LoadResult {
  ops: number;
  errors: number;
  seconds: number;
  opsPerSec: number;
  p50ms: number;
  p99ms: number;
  /** Every successful request's latency, fastest first. */
  latenciesMs: number[];
}

function post(agent: Agent, url: URL, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : request)(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

/** The `p`th percentile of latencies sorted fastest first (NaN for none). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Runs `clients` workers for `seconds`, each starting its next call of `op(worker, n)` as soon
 * as the previous one settles. `op` resolves true for a success; a false or a throw is an error.
 */
export async function runClosedLoop(
  clients: number,
  seconds: number,
  op: (worker: number, n: number) => Promise<boolean>,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, w) => {
      for (let n = 0; performance.now() < end; n++) {
        const t0 = performance.now();
        try {
          if (await op(w, n)) latencies.push(performance.now() - t0);
          else errors++;
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    ops: latencies.length,
    errors,
    seconds: elapsed,
    opsPerSec: latencies.length / elapsed,
    p50ms: percentile(latencies, 50),
    p99ms: percentile(latencies, 99),
    latenciesMs: latencies,
  };
}

/**
 * Runs `clients` workers against `endpoints` (worker i uses endpoint i mod n) for `seconds`.
 * `body(worker, n)` makes the n-th request body of a worker.
 */
export async function runLoad(
  endpoints: string[],
  path: string,
  clients: number,
  seconds: number,
  body: (worker: number, n: number) => string,
  tls?: ConnectionOptions,
): Promise<LoadResult> {
  const agent = tls
    ? new HttpsAgent({ keepAlive: true, maxSockets: clients, ...tls })
    : new Agent({ keepAlive: true, maxSockets: clients });
  const urls = endpoints.map((e) => new URL(path, e));
  try {
    return await runClosedLoop(
      clients,
      seconds,
      async (w, n) => (await post(agent, urls[w % urls.length]!, body(w, n))) === 200,
    );
  } finally {
    agent.destroy();
  }
}
