// Fault injection in front of dependencies:
//  - startS3FaultProxy: an HTTP proxy in front of an S3 endpoint that passes requests through unchanged (SigV4 stays
//    valid: the Host header is forwarded as sent) or answers 500 InternalError / 503 SlowDown / resets the connection;
//  - startTcpProxy: a TCP proxy (e.g. in front of Postgres) that can cut every connection and refuse new ones, so one
//    test can take "its" Postgres down without touching the other suites sharing the server.
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import { createConnection, createServer as createTcpServer, type Socket } from 'node:net';

export type S3FaultMode = 'pass' | 'error500' | 'slowdown503' | 'reset';

export interface S3FaultProxy {
  url: string;
  port: number;
  mode: S3FaultMode;
  /** Switch mode; `probability` < 1 injects the fault into that share of requests only. */
  setMode(mode: S3FaultMode, probability?: number): void;
  stats: { requests: number; injected: number; upstreamErrors: number };
  close(): Promise<void>;
}

const XML = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>fault</RequestId></Error>`;

export async function startS3FaultProxy(target: () => string, port = 0): Promise<S3FaultProxy> {
  let mode: S3FaultMode = 'pass';
  let probability = 1;
  const stats = { requests: 0, injected: 0, upstreamErrors: 0 };
  const sockets = new Set<Socket>();
  const server: Server = createHttpServer((req, res) => {
    stats.requests++;
    if (mode !== 'pass' && Math.random() < probability) {
      stats.injected++;
      req.resume();
      if (mode === 'reset') {
        req.socket.destroy();
        return;
      }
      const [status, code, msg] = mode === 'error500' ? [500, 'InternalError', 'We encountered an internal error. Please try again.'] : [503, 'SlowDown', 'Please reduce your request rate.'];
      const body = XML(code, msg);
      res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), connection: 'close' });
      res.end(body);
      return;
    }
    const t = new URL(target());
    const up = httpRequest(
      { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers, agent: false },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.rawHeaders);
        ur.pipe(res);
        ur.on('error', () => res.destroy());
      },
    );
    up.on('error', () => {
      // The store is down: behave like it (the connection drops), do not invent an answer.
      stats.upstreamErrors++;
      res.destroy();
    });
    req.pipe(up);
    req.on('error', () => up.destroy());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const p = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${p}`,
    port: p,
    get mode() {
      return mode;
    },
    setMode(m, prob = 1) {
      mode = m;
      probability = prob;
    },
    stats,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export interface TcpProxy {
  port: number;
  /** true: cut every open connection and refuse new ones until set back to false. */
  setDown(down: boolean): void;
  readonly down: boolean;
  stats: { connections: number; cut: number; refused: number };
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  let down = false;
  const pairs = new Set<[Socket, Socket]>();
  const stats = { connections: 0, cut: 0, refused: 0 };
  const server = createTcpServer((client) => {
    if (down) {
      stats.refused++;
      client.destroy();
      return;
    }
    stats.connections++;
    const upstream = createConnection({ host: targetHost, port: targetPort });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    get down() {
      return down;
    },
    setDown(d) {
      down = d;
      if (d) {
        for (const [a, b] of pairs) {
          stats.cut++;
          a.destroy();
          b.destroy();
        }
        pairs.clear();
      }
    },
    stats,
    close: () =>
      new Promise<void>((r) => {
        for (const [a, b] of pairs) {
          a.destroy();
          b.destroy();
        }
        server.close(() => r());
      }),
  };
}
