// `stowage token --workspace W`: mints an HS256 dev token with AUTH_JWT_SECRET or the secret `stowage start` keeps.
import type { Command } from '../command.ts';
import { UsageError } from '../args.ts';
import { loadConfigOrReport } from '../runtime.ts';
import { mintToken } from '../../http/auth.ts';
import { isValidWorkspaceId } from '../../domain/keys.ts';
import { readDevSecrets } from '../secrets.ts';

export const tokenCommand: Command = {
  name: 'token',
  summary:
    'Prints a signed HS256 token for a workspace (AUTH_JWT_SECRET, else the dev secret in STOWAGE_DATA_DIR).',
  usage: 'stowage token --workspace <id> [--ttl <seconds>] [--sub <subject>]',
  flags: {
    workspace: { type: 'string', value: 'id', description: 'workspace id (letters, digits, - and _; required)' },
    ttl: { type: 'string', value: 'seconds', description: 'lifetime in seconds (default 86400)' },
    sub: { type: 'string', value: 'subject', description: 'the uploader, as the `sub` claim (default "dev")' },
  },
  async run({ values }) {
    const workspace = values.workspace;
    if (typeof workspace !== 'string') throw new UsageError('--workspace is required');
    if (!isValidWorkspaceId(workspace)) {
      throw new UsageError('--workspace must be 1-128 letters, digits, "-" or "_", starting with a letter or digit');
    }
    const ttlRaw = values.ttl ?? '86400';
    if (typeof ttlRaw !== 'string' || !/^\d+$/.test(ttlRaw) || Number(ttlRaw) < 1) {
      throw new UsageError('--ttl must be a positive whole number of seconds');
    }
    const config = loadConfigOrReport(process.env, { requireExternal: false });
    if (!config) return 1;
    if (config.auth.jwksUrl) {
      process.stderr.write('stowage: AUTH_JWKS_URL is set: tokens come from your identity provider, not from stowage\n');
      return 1;
    }
    const secret = config.auth.jwtSecret ?? (await readDevSecrets(config.dataDir))?.jwtSecret;
    if (!secret) {
      process.stderr.write(
        `stowage: no signing secret: set AUTH_JWT_SECRET, or run \`stowage start\` once to create ${config.dataDir}/secrets.json\n`,
      );
      return 1;
    }
    const token = await mintToken({
      secret,
      workspaceId: workspace,
      subject: typeof values.sub === 'string' ? values.sub : 'dev',
      ttlSeconds: Number(ttlRaw),
      workspaceClaim: config.auth.workspaceClaim,
      issuer: config.auth.issuer,
      audience: config.auth.audience,
    });
    process.stdout.write(token + '\n');
    return 0;
  },
};
