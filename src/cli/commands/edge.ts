// `stowage edge`: the local CDN edge as a standalone process (self-hosted setups behind nginx). See src/edge/cli.ts
// for every variable and docs/downloads.md for the behaviour.
import type { Command } from '../command.ts';
import { edgeCli } from '../../edge/cli.ts';

export const edgeCommand: Command = {
  name: 'edge',
  summary:
    'Runs the local CDN edge: verifies CloudFront-format signed URLs and cookies, streams objects from the bucket.\n' +
    'Storage: S3_ENDPOINT, S3_BUCKET, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_REGION. Keys: --key / EDGE_PUBLIC_KEYS,\n' +
    'CLOUDFRONT_KEY_PAIR_ID + CLOUDFRONT_PUBLIC_KEY(_FILE), else the key pair in STOWAGE_DATA_DIR (created if missing).',
  usage: 'stowage edge [--host <h>] [--port <p>] [--public-url <url>] [--key <KID=pem>[,<KID=pem>…]] [--trust-proxy]',
  flags: {
    host: { type: 'string', value: 'host', description: 'listen address (EDGE_HOST, default 127.0.0.1)' },
    port: { type: 'string', value: 'port', description: 'listen port (EDGE_PORT, default 8788)' },
    'public-url': {
      type: 'string',
      value: 'url',
      description: 'base URL the download URLs are signed for (EDGE_PUBLIC_URL or CDN_BASE_URL; default: the Host header)',
    },
    key: { type: 'string', value: 'KID=pem', description: 'public key(s): key-pair id = PEM file, comma-separated' },
    'trust-proxy': { type: 'boolean', description: 'honour X-Forwarded-Proto/Host/For (only behind your own proxy)' },
  },
  async run({ values }) {
    const argv: string[] = [];
    for (const name of ['host', 'port', 'public-url'] as const) {
      const v = values[name];
      if (typeof v === 'string') argv.push(`--${name}`, v);
    }
    if (typeof values.key === 'string') {
      for (const k of values.key.split(',').map((s) => s.trim()).filter(Boolean)) argv.push('--key', k);
    }
    if (values['trust-proxy'] === true) argv.push('--trust-proxy');
    return edgeCli(argv);
  },
};
