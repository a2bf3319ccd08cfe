// Short-lived upload tokens (Uppy's path-carried credentials). Only the SHA-256 of a token is stored.
import { createHash } from 'node:crypto';
import type { Queryable } from './pool.ts';

export interface UploadTokenRow {
  workspaceId: string;
  subject: string | null;
  expiresAt: Date;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export async function insertUploadToken(
  q: Queryable,
  t: { token: string; workspaceId: string; subject: string | null; expiresAt: Date },
): Promise<void> {
  await q.query(
    `INSERT INTO upload_tokens (token_hash, workspace_id, subject, expires_at) VALUES ($1, $2, $3, $4)`,
    [hashToken(t.token), t.workspaceId, t.subject, t.expiresAt],
  );
}

/** The token's workspace, or null when it does not exist or has expired at `now`. */
export async function findUploadToken(q: Queryable, token: string, now: Date): Promise<UploadTokenRow | null> {
  const r = await q.query(
    `SELECT workspace_id, subject, expires_at FROM upload_tokens WHERE token_hash = $1 AND expires_at > $2`,
    [hashToken(token), now],
  );
  const row = r.rows[0];
  return row ? { workspaceId: row.workspace_id, subject: row.subject ?? null, expiresAt: row.expires_at } : null;
}

/** Removes tokens that expired before `before` (housekeeping). */
export async function deleteExpiredUploadTokens(q: Queryable, before: Date): Promise<number> {
  const r = await q.query(`DELETE FROM upload_tokens WHERE expires_at < $1`, [before]);
  return r.rowCount ?? 0;
}
