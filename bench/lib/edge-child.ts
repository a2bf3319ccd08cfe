// The edge in its own process for bench/edge.ts (as `stowage edge` runs it), so the edge hop does not share the
// bench client's event loop. Options come as JSON in BENCH_EDGE_OPTIONS; prints "READY <url>" once listening.
import { startEdge, type EdgeOptions } from '../../src/edge/server.ts';

const opts = JSON.parse(process.env.BENCH_EDGE_OPTIONS ?? '{}') as EdgeOptions;
const edge = await startEdge(opts);
process.stdout.write(`READY ${edge.url}\n`);
const stop = () => {
  void edge.close().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
