import type { FileRow } from '../db/files.ts';
import type { FileStatus } from '../domain/upload-state.ts';

/** The public shape of a file (docs/ARCHITECTURE.md, FileView). */
export interface FileView {
  id: string;
  status: FileStatus;
  filename: string;
  contentType: string;
  size: number;
  checksumSha256: string | null;
  metadata: Record<string, unknown>;
  createdAt: string;
  expiresAt: string;
  completedAt: string | null;
  rejectReason: string | null;
  uploadMethod: 'put' | 'post' | 'multipart';
}

export function toFileView(f: FileRow): FileView {
  return {
    id: f.id,
    status: f.status,
    filename: f.filename,
    contentType: f.contentType,
    size: f.size,
    checksumSha256: f.checksumSha256,
    metadata: f.metadata,
    createdAt: f.createdAt.toISOString(),
    expiresAt: f.expiresAt.toISOString(),
    completedAt: f.completedAt ? f.completedAt.toISOString() : null,
    rejectReason: f.rejectReason,
    uploadMethod: f.uploadMethod,
  };
}
