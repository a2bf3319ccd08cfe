// The embedded object store in its own process for the benchmarks (it plays S3; it is not what is measured, and in
// its own process it does not compete with the load generator's event loop).
// argv: <dir> <accessKeyId> <secretAccessKey>. Prints "READY <endpoint>" once listening; SIGTERM closes it.
import { startObjectStore } from '../../src/objectstore/index.ts';

const [dir, accessKeyId, secretAccessKey] = process.argv.slice(2);
const store = await startObjectStore({ dir, host: '127.0.0.1', port: 0, credentials: [{ accessKeyId, secretAccessKey }] });
process.stdout.write(`READY ${store.endpoint}\n`);
process.once('SIGTERM', () => {
  void store.close().finally(() => process.exit(0));
});
