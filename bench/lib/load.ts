// HTTP load with autocannon: per-request setup (e.g. a different workspace's token each request), results in req/s.
import autocannon from 'autocannon';

export interface LoadResult {
  /** Successful (2xx) requests per second over the measured duration. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  non2xx: number;
  errors: number;
  seconds: number;
  statusCodes: Record<string, number>;
}

export interface LoadOptions {
  url: string;
  connections: number;
  /** Seconds; or `amount` requests. */
  duration?: number;
  amount?: number;
  method: string;
  /** Called for every request: returns its path, headers and body. */
  next: () => { path: string; headers: Record<string, string>; body?: string };
}

export async function load(opts: LoadOptions): Promise<LoadResult> {
  const r = await autocannon({
    url: opts.url,
    connections: opts.connections,
    ...(opts.amount !== undefined ? { amount: opts.amount } : { duration: opts.duration ?? 10 }),
    timeout: 30,
    requests: [
      {
        method: opts.method,
        setupRequest: (req) => {
          const n = opts.next();
          return { ...req, method: opts.method, path: n.path, headers: n.headers, ...(n.body !== undefined ? { body: n.body } : {}) };
        },
      },
    ],
  });
  const statusCodes: Record<string, number> = {};
  for (const [code, v] of Object.entries(r.statusCodeStats ?? {})) statusCodes[code] = Number(v.count);
  const ok = r['2xx'];
  return {
    rps: ok / r.duration,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    ok,
    non2xx: r.non2xx,
    errors: r.errors,
    seconds: r.duration,
    statusCodes,
  };
}
