// A closed-loop HTTP load generator: `clients` workers, each sending its next request as soon
// as the previous one is answered, for a fixed time. Keep-alive connections, one per worker.
import { Agent, request } from 'node:http';

export interface LoadResult {
  ops: number;
  errors: number;
  seconds: number;
  opsPerSec: number;
  p50ms: number;
  p99ms: number;
}

function post(agent: Agent, url: URL, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
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

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
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
): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, w) => {
      const url = new URL(path, endpoints[w % endpoints.length]);
      for (let n = 0; performance.now() < end; n++) {
        const t0 = performance.now();
        try {
          const status = await post(agent, url, body(w, n));
          if (status === 200) latencies.push(performance.now() - t0);
          else errors++;
        } catch {
          errors++;
        }
      }
    }),
  );
  agent.destroy();
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    ops: latencies.length,
    errors,
    seconds: elapsed,
    opsPerSec: latencies.length / elapsed,
    p50ms: percentile(latencies, 50),
    p99ms: percentile(latencies, 99),
  };
}
