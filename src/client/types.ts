// Shapes of the public HTTP API (docs/ARCHITECTURE.md) as the SDK sees them.

export type FileStatus = 'pending' | 'available' | 'rejected' | 'expired' | 'deleted' | 'missing';

export interface FileView {
  id: string;
  status: FileStatus;
  filename: string;
  contentType: string;
  size: number | null;
  checksumSha256: string | null;
  metadata: Record<string, unknown> | null;
  createdAt: string;
  expiresAt: string | null;
  completedAt: string | null;
  rejectReason: string | null;
  uploadMethod: string | null;
}

export type UploadInstruction =
  | { method: 'PUT'; url: string; headers: Record<string, string>; expiresAt: string }
  | { method: 'POST'; url: string; fields: Record<string, string>; expiresAt: string }
  | {
      method: 'MULTIPART';
      uploadId: string;
      partSize: number;
      partCount: number;
      expiresAt: string;
      /** URLs for the first parts, given with the create answer (servers that sign ahead). */
      parts?: SignedPart[];
      partsExpireAt?: string;
    };

export interface CreateUploadRequest {
  filename: string;
  contentType: string;
  size: number;
  checksumSha256?: string;
  metadata?: Record<string, unknown>;
  method?: 'put' | 'post' | 'multipart';
  fingerprint?: string;
  /** Multipart: each part will carry its SHA-256. */
  partChecksums?: boolean;
}

export interface CreateUploadResponse {
  file: FileView;
  upload: UploadInstruction;
}

export interface SignedPart {
  partNumber: number;
  url: string;
  headers: Record<string, string>;
  size: number;
}

export interface SignPartsResponse {
  parts: SignedPart[];
  expiresAt: string;
}

export interface ListedPart {
  partNumber: number;
  size: number;
  etag: string;
  /** The part's SHA-256 (base64) when the server reports it: a resuming client skips the part only if it matches. */
  checksumSha256?: string;
}

export interface ListPartsResponse {
  parts: ListedPart[];
  /** Present on Stowage servers (additive to the contract): the plan, so a resuming client needs nothing else. */
  partSize?: number;
  partCount?: number;
}

export interface FileList {
  items: FileView[];
  nextCursor: string | null;
}

export interface Usage {
  usedBytes: number;
  reservedBytes: number;
  quotaBytes: number;
  fileCount: number;
  maxFiles: number;
  pendingCount: number;
  maxPending: number;
  maxFileSize: number;
  allowedContentTypes: string[];
}

export interface DownloadLink {
  url: string;
  expiresAt: string;
}

export interface UploadProgress {
  /** Bytes storage holds for this upload (including parts found on the server when resuming). */
  bytesSent: number;
  total: number;
  /** Bytes per second over the last few seconds; 0 until something was sent. */
  rate: number;
  /** Seconds left at the current rate; null while unknown. */
  eta: number | null;
  /** Parts already in storage / all parts (1 / 1 for single uploads once sent). */
  partsDone: number;
  partCount: number;
}
