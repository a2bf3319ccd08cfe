// Shapes of the API's answers (docs/ARCHITECTURE.md), for /openapi.json. Requests are described by the routes' own
// zod validators; these describe what the services return.
import { z } from 'zod';
import { toJsonSchema, type JsonSchema } from './openapi.ts';

const iso = z.string().describe('ISO 8601 timestamp');

export const FileView = z.object({
  id: z.string().describe('uuid'),
  status: z.enum(['pending', 'available', 'rejected', 'expired', 'deleted', 'missing']),
  filename: z.string(),
  contentType: z.string(),
  size: z.number().int(),
  checksumSha256: z.string().nullable().describe('base64 SHA-256 of the whole file, when given at creation'),
  metadata: z.record(z.string(), z.unknown()),
  createdAt: iso,
  expiresAt: iso.describe('when a pending upload expires'),
  completedAt: iso.nullable(),
  rejectReason: z.string().nullable(),
  uploadMethod: z.enum(['put', 'post', 'multipart']),
});

export const ErrorBody = z.object({
  error: z.object({
    code: z.enum([
      'invalid_request', 'unauthorized', 'not_found', 'upload_not_found_in_storage', 'invalid_state', 'file_too_large',
      'content_type_not_allowed', 'verification_failed', 'quota_exceeded', 'rate_limited', 'internal_error',
      'dependency_unavailable',
    ]),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});

const SignedPart = z.object({ partNumber: z.number().int(), url: z.string(), headers: z.record(z.string(), z.string()), size: z.number().int() });

export const UploadInstruction = z.discriminatedUnion('method', [
  z.object({ method: z.literal('PUT'), url: z.string(), headers: z.record(z.string(), z.string()), expiresAt: iso }),
  z.object({ method: z.literal('POST'), url: z.string(), fields: z.record(z.string(), z.string()), expiresAt: iso }),
  z.object({
    method: z.literal('MULTIPART'),
    uploadId: z.string(),
    partSize: z.number().int(),
    partCount: z.number().int(),
    expiresAt: iso,
    /** URLs for the first parts (MULTIPART_PARTS_SIGNED_AT_CREATE); absent with part checksums. */
    parts: z.array(SignedPart).optional(),
    partsExpireAt: iso.optional(),
  }),
]);

export const Usage = z.object({
  usedBytes: z.number().int(),
  reservedBytes: z.number().int(),
  quotaBytes: z.number().int(),
  fileCount: z.number().int(),
  maxFiles: z.number().int(),
  pendingCount: z.number().int(),
  maxPending: z.number().int(),
  maxFileSize: z.number().int(),
  allowedContentTypes: z.array(z.string()),
});

export const SignedParts = z.object({
  parts: z.array(SignedPart),
  expiresAt: iso,
});

export const ListedParts = z.object({
  parts: z.array(z.object({ partNumber: z.number().int(), size: z.number().int(), etag: z.string() })),
  partSize: z.number().int().optional(),
  partCount: z.number().int().optional(),
});

export const DownloadLink = z.object({ url: z.string(), expiresAt: iso });

/** A $ref to a component below. */
export const ref = (name: keyof typeof COMPONENT_SCHEMAS | string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

const COMPONENT_SCHEMAS = { FileView, Error: ErrorBody, UploadInstruction, Usage, SignedParts, ListedParts, DownloadLink };

export function componentSchemas(): Record<string, JsonSchema> {
  return Object.fromEntries(Object.entries(COMPONENT_SCHEMAS).map(([k, v]) => [k, toJsonSchema(v)]));
}

/** Common response sets. */
export const errorResponse = (description: string) => ({ description, schema: ref('Error') });
export const fileResponse = (description = 'The file') => ({ description, schema: { type: 'object', properties: { file: ref('FileView') }, required: ['file'] } });
export const fileListResponse = {
  description: 'A page of files, newest first',
  schema: { type: 'object', properties: { items: { type: 'array', items: ref('FileView') }, nextCursor: { type: ['string', 'null'] } }, required: ['items', 'nextCursor'] },
};
