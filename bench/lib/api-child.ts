// Fallback API process for the benchmarks while `stowage serve` has not landed: the same wiring the serve command
// does (config from the environment, pool, migrations, S3 adapter, buildServer, listen), nothing more.
// bench/lib/stowage.ts uses `node bin/stowage.mjs serve` as soon as src/cli/commands/serve.ts exists.
import pino from 'pino';
import { loadConfig } from '../../src/config/index.ts';
import { createPool } from '../../src/db/pool.ts';
import { migrate } from '../../src/db/migrate.ts';
import { S3Storage, DEFAULT_UPLOAD_CORS } from '../../src/storage/s3-adapter.ts';
import { buildServer } from '../../src/http/server.ts';

const config = loadConfig(process.env, { requireExternal: true });
const log = pino({ level: config.logLevel });
const db = createPool(config.databaseUrl!, { max: config.databasePoolMax, onError: (err) => log.warn({ err }, 'idle pg client error') });
await migrate(db);
const storage = new S3Storage({
  endpoint: config.s3.endpoint,
  region: config.s3.region,
  bucket: config.s3.bucket,
  accessKeyId: config.s3.accessKeyId,
  secretAccessKey: config.s3.secretAccessKey,
  forcePathStyle: config.s3.forcePathStyle,
});
await storage.ensureBucket({ cors: DEFAULT_UPLOAD_CORS });
const app = await buildServer({ config, db, storage, log, now: () => new Date() });
await app.listen({ host: config.host, port: config.port });
const stop = async (): Promise<void> => {
  await app.close();
  await db.end();
  storage.destroy();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
