// `stowage s3`: the embedded S3-compatible object store alone (src/objectstore), e.g. as a local S3 for other tools.
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { Command } from '../command.ts';
import { UsageError } from '../args.ts';
import { createLogger, loadConfigOrReport, runUntilSignal } from '../runtime.ts';
import { loadOrCreateDevSecrets } from '../secrets.ts';

export const s3Command: Command = {
  name: 's3',
  summary:
    'Runs the embedded S3-compatible object store on its own (SigV4, multipart, presigned URLs and POST, CORS, event\n' +
    'webhooks). Data in --dir (default STOWAGE_DATA_DIR/s3). Credentials: S3_ACCESS_KEY_ID/S3_SECRET_ACCESS_KEY,\n' +
    'else the dev credentials in STOWAGE_DATA_DIR/secrets.json (created if missing), the same ones `stowage start` uses.',
  usage: 'stowage s3 [--dir <path>] [--host <h>] [--port <p>] [--json]',
  flags: {
    dir: { type: 'string', value: 'path', description: 'data directory (default STOWAGE_DATA_DIR/s3)' },
    host: { type: 'string', value: 'host', description: 'listen address (default 127.0.0.1)' },
    port: { type: 'string', value: 'port', description: 'listen port (EMBEDDED_S3_PORT, default 3900; 0 = any free port)' },
    json: { type: 'boolean', description: 'print the endpoint and credentials as one JSON line' },
  },
  async run({ values }) {
    const config = loadConfigOrReport(process.env, { requireExternal: false });
    if (!config) return 1;
    let port = config.embedded.s3Port;
    if (values.port !== undefined) {
      if (typeof values.port !== 'string' || !/^\d+$/.test(values.port) || Number(values.port) > 65535) {
        throw new UsageError('--port must be 0-65535');
      }
      port = Number(values.port);
    }
    const log = createLogger(config.logLevel);
    const dir = typeof values.dir === 'string' ? values.dir : path.join(config.dataDir, 's3');
    await mkdir(dir, { recursive: true });
    let accessKeyId = config.s3.accessKeyId;
    let secretAccessKey = config.s3.secretAccessKey;
    if (!accessKeyId || !secretAccessKey) {
      await mkdir(config.dataDir, { recursive: true });
      const secrets = await loadOrCreateDevSecrets(config.dataDir);
      accessKeyId = secrets.s3AccessKeyId;
      secretAccessKey = secrets.s3SecretAccessKey;
    }
    const { startObjectStore } = await import('../../objectstore/index.ts');
    const store = await startObjectStore({
      dir,
      host: typeof values.host === 'string' ? values.host : '127.0.0.1',
      port,
      region: config.s3.region,
      credentials: [{ accessKeyId, secretAccessKey }],
    });
    if (values.json) {
      process.stdout.write(JSON.stringify({ endpoint: store.endpoint, region: config.s3.region, accessKeyId, secretAccessKey, dir: path.resolve(dir) }) + '\n');
    } else {
      process.stdout.write(
        [
          'Embedded S3 object store running.',
          `  Endpoint  ${store.endpoint} (path-style)`,
          `  Region    ${config.s3.region}`,
          `  Key       ${accessKeyId}`,
          `  Secret    ${secretAccessKey}`,
          `  Data      ${path.resolve(dir)}`,
          '',
          'Press Ctrl+C to stop.',
          '',
        ].join('\n'),
      );
    }
    return runUntilSignal(() => store.close(), log, config.shutdownTimeoutMs);
  },
};
