// Secrets `stowage start` generates once and keeps under the data dir, so restarts keep tokens, S3 keys and the
// database password valid.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';

export interface DevSecrets {
  jwtSecret: string;
  s3AccessKeyId: string;
  s3SecretAccessKey: string;
  postgresPassword: string;
}

export function secretsPath(dataDir: string): string {
  return path.join(dataDir, 'secrets.json');
}

export async function readDevSecrets(dataDir: string): Promise<DevSecrets | null> {
  try {
    return JSON.parse(await readFile(secretsPath(dataDir), 'utf8')) as DevSecrets;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export async function loadOrCreateDevSecrets(dataDir: string): Promise<DevSecrets> {
  const existing = await readDevSecrets(dataDir);
  if (existing) return existing;
  const secrets: DevSecrets = {
    jwtSecret: randomBytes(32).toString('base64url'),
    s3AccessKeyId: 'STOWAGE' + randomBytes(8).toString('hex').toUpperCase(),
    s3SecretAccessKey: randomBytes(30).toString('base64url'),
    postgresPassword: randomBytes(18).toString('base64url'),
  };
  await mkdir(dataDir, { recursive: true });
  await writeFile(secretsPath(dataDir), JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600, flag: 'wx' }).catch(
    async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    },
  );
  await chmod(secretsPath(dataDir), 0o600).catch(() => {});
  return (await readDevSecrets(dataDir)) ?? secrets;
}
