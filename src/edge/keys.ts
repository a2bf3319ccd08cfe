// The edge's RSA key pair, generated on first start and kept in the data directory so the edge works with no setup.
import { generateKeyPairSync, randomBytes, createPublicKey } from 'node:crypto';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface EdgeKeyPair {
  keyPairId: string;
  privateKeyPem: string;
  publicKeyPem: string;
}

const FILE = 'edge-keypair.json';
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** A CloudFront-looking key-pair id: `K` + 13 upper-case alphanumerics. */
export function newKeyPairId(): string {
  const bytes = randomBytes(13);
  let id = 'K';
  for (const b of bytes) id += ALPHABET[b % ALPHABET.length];
  return id;
}

export function generateEdgeKeyPair(bits = 2048): EdgeKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { keyPairId: newKeyPairId(), privateKeyPem: privateKey, publicKeyPem: publicKey };
}

function parse(text: string): EdgeKeyPair {
  const j = JSON.parse(text) as Partial<EdgeKeyPair>;
  if (typeof j.keyPairId !== 'string' || typeof j.privateKeyPem !== 'string' || typeof j.publicKeyPem !== 'string') {
    throw new Error(`${FILE} is malformed`);
  }
  // Fails loudly if the PEMs were damaged.
  const derived = createPublicKey(j.privateKeyPem).export({ type: 'spki', format: 'pem' }).toString();
  if (derived.trim() !== j.publicKeyPem.trim()) throw new Error(`${FILE}: public key does not match private key`);
  return { keyPairId: j.keyPairId, privateKeyPem: j.privateKeyPem, publicKeyPem: j.publicKeyPem };
}

/**
 * Returns the key pair stored in `dir/edge-keypair.json`, creating it (mode 0600) on first use. Safe against two
 * processes starting at once: the file is created exclusively, the loser reads the winner's key.
 */
export async function ensureEdgeKeyPair(dir: string): Promise<EdgeKeyPair> {
  const path = join(dir, FILE);
  try {
    return parse(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const pair = generateEdgeKeyPair();
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, JSON.stringify(pair, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  try {
    // link(2) is atomic and fails if the target exists, so a concurrent reader never sees a half-written file.
    await link(tmp, path);
    return pair;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return parse(await readFile(path, 'utf8'));
  } finally {
    await rm(tmp, { force: true });
  }
}
