import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { RouteOptions } from '../types.ts';
import { parseInput } from '../validation.ts';
import { createUpload } from '../../services/create-upload.ts';
import { completeUpload } from '../../services/complete-upload.ts';
import { abortUpload } from '../../services/delete-file.ts';
import { listFiles } from '../../services/list-files.ts';
import { toFileView } from '../../services/views.ts';
import { ref, errorResponse, fileResponse, fileListResponse } from '../api-schemas.ts';

const createBody = z.object({
  filename: z.string().min(1).max(65_536),
  contentType: z.string().min(1).max(255),
  size: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  checksumSha256: z.string().nullish(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
  method: z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(['put', 'post', 'multipart']))
    .optional(),
  fingerprint: z.string().min(1).max(256).nullish(),
  /** Multipart: the client will send each part's SHA-256 (storage is told at creation, as AWS requires). */
  partChecksums: z.boolean().optional(),
});

const idParams = z.object({ id: z.string() });

const completeBody = z.object({
  /** Multipart: every part with the ETag storage answered to its PUT; spares the server listing the parts. */
  parts: z
    .array(
      z.object({
        partNumber: z.number().int(),
        etag: z.string().min(1).max(256).regex(/^[\x21-\x7e]+$/, 'must be an ETag as storage answered it'),
        checksumSha256: z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'must be a base64 SHA-256').optional(),
      }),
    )
    .max(10_000)
    .optional(),
});
/** Room for a part list of all 10,000 parts with ETags and checksums (~150 bytes each); other bodies stay at 256 KiB. */
const COMPLETE_BODY_LIMIT = 2 * 1024 * 1024;

const listQuery = z.object({
  status: z.string().optional(),
  fingerprint: z.string().max(256).optional(),
  cursor: z.string().max(512).optional(),
  limit: z.coerce.number().int().optional(),
});

export const uploadsRoutes: FastifyPluginAsync<RouteOptions> = async (app, { deps }) => {
  app.post('/uploads', { config: { openapi: { summary: 'Create an upload: reserves quota and answers how to send the bytes (PUT, POST form or multipart)', tags: ['uploads'], body: createBody, responses: { 201: { description: 'The pending file and the upload instruction', schema: { type: 'object', properties: { file: ref('FileView'), upload: ref('UploadInstruction') }, required: ['file', 'upload'] } }, 413: errorResponse('file_too_large'), 415: errorResponse('content_type_not_allowed'), 429: errorResponse('quota_exceeded or rate_limited') } } } }, async (req, reply) => {
    const body = parseInput(createBody, req.body);
    const r = await createUpload(deps, {
      workspaceId: req.auth.workspaceId,
      uploader: req.auth.subject,
      filename: body.filename,
      contentType: body.contentType,
      size: body.size,
      checksumSha256: body.checksumSha256 ?? null,
      metadata: body.metadata ?? {},
      method: body.method,
      fingerprint: body.fingerprint ?? null,
      partChecksums: body.partChecksums === true,
    });
    reply.code(201);
    return { file: r.file, upload: r.upload };
  });

  app.get('/uploads', { config: { openapi: { summary: 'Unfinished uploads (status pending by default), optionally of one fingerprint', tags: ['uploads'], query: listQuery, responses: { 200: fileListResponse } } } }, async (req) => {
    const q = parseInput(listQuery, req.query, 'query');
    return listFiles(deps, req.auth.workspaceId, { ...q, status: q.status ?? 'pending' });
  });

  app.post('/uploads/:id/complete', { bodyLimit: COMPLETE_BODY_LIMIT, config: { openapi: { summary: 'Complete an upload: verifies the object in storage (size, checksum, magic bytes); repeatable', tags: ['uploads'], params: idParams, body: completeBody, responses: { 200: fileResponse('The file (available, or rejected with rejectReason)'), 404: errorResponse('not_found'), 409: errorResponse('upload_not_found_in_storage or invalid_state'), 422: errorResponse('verification_failed') } } } }, async (req) => {
    const { id } = parseInput(idParams, req.params, 'path');
    const body = parseInput(completeBody, req.body);
    const row = await completeUpload(deps, req.auth.workspaceId, id, body.parts);
    return { file: toFileView(row) };
  });

  app.delete('/uploads/:id', { config: { openapi: { summary: 'Abort an upload (idempotent): storage freed, quota released', tags: ['uploads'], params: idParams, responses: { 204: 'Aborted', 404: errorResponse('not_found') } } } }, async (req, reply) => {
    const { id } = parseInput(idParams, req.params, 'path');
    await abortUpload(deps, req.auth.workspaceId, id);
    reply.code(204).send();
  });
};
