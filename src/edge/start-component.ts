// The local edge as a `stowage start` component (DOWNLOAD_STRATEGY=edge, the default): uses the key pair kept in the
// data directory (created on first start) unless CLOUDFRONT_KEY_PAIR_ID + CLOUDFRONT_PRIVATE_KEY(_FILE) are set,
// serves the bucket on EDGE_HOST:EDGE_PORT, and fills config.downloads so the API signs URLs for it.
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import { ensureEdgeKeyPair } from './keys.ts';
import { startEdge, type EdgeHandle } from './server.ts';

export interface EdgeComponent {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Listening URL, after start(). */
  readonly url: string | undefined;
}

export function edgeStartComponent(ctx: { config: Config; log: Logger }): EdgeComponent | null {
  const d = ctx.config.downloads;
  if (!d || d.strategy !== 'edge') return null;
  let edge: EdgeHandle | undefined;
  return {
    name: 'edge',
    get url() {
      return edge?.url;
    },
    async start() {
      const { config, log } = ctx;
      const downloads = config.downloads!;
      let keyPairId = downloads.keyPairId;
      let privateKey = downloads.privateKey?.replace(/\\n/g, '\n') ?? (downloads.privateKeyFile ? readFileSync(downloads.privateKeyFile, 'utf8') : undefined);
      if (!keyPairId || !privateKey) {
        const pair = await ensureEdgeKeyPair(config.dataDir);
        keyPairId = pair.keyPairId;
        privateKey = pair.privateKeyPem;
      }
      const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
      edge = await startEdge({
        host: downloads.edge.host,
        port: downloads.edge.port,
        publicUrl: downloads.cdnBaseUrl,
        s3: {
          endpoint: config.s3.endpoint,
          region: config.s3.region,
          bucket: config.s3.bucket,
          credentials:
            config.s3.accessKeyId && config.s3.secretAccessKey
              ? { accessKeyId: config.s3.accessKeyId, secretAccessKey: config.s3.secretAccessKey }
              : undefined,
          forcePathStyle: config.s3.forcePathStyle,
        },
        publicKeys: { [keyPairId]: publicKeyPem },
        logger: {
          info: (o, m) => log.debug({ component: 'edge', ...o }, m),
          warn: (o, m) => log.warn({ component: 'edge', ...o }, m),
          error: (o, m) => log.error({ component: 'edge', ...o }, m),
        },
      });
      // The API signs for this edge, with this key (read lazily by the download signer).
      downloads.keyPairId = keyPairId;
      downloads.privateKey = privateKey;
      downloads.privateKeyFile = undefined;
      if (!downloads.cdnBaseUrl) downloads.cdnBaseUrl = edge.url;
      log.info({ url: edge.url, publicUrl: downloads.cdnBaseUrl, keyPairId }, 'local edge started');
    },
    async stop() {
      await edge?.close();
      edge = undefined;
    },
  };
}
