// The tus baseline: a real @tus/server with @tus/file-store, as its README shows, in its own process.
// argv[2] = directory for uploads. Prints "READY <port>" on stdout once listening.
import { Server } from '@tus/server';
import { FileStore } from '@tus/file-store';

const dir = process.argv[2];
const server = new Server({ path: '/files', datastore: new FileStore({ directory: dir }) });
const http = server.listen({ host: '127.0.0.1', port: 0 }, () => {
  const addr = http.address();
  process.stdout.write(`READY ${typeof addr === 'object' && addr ? addr.port : 0}\n`);
});
process.on('SIGTERM', () => http.close(() => process.exit(0)));
