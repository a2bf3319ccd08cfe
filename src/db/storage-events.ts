// The storage event inbox (migration 020): events received over HTTP are stored before the request is answered and
// deleted once processed.
import type { Queryable } from './pool.ts';
import type { StorageEvent } from '../domain/storage-events.ts';

export interface InboxRow {
  id: number;
  event: StorageEvent;
  attempts: number;
}

export async function insertStorageEvents(q: Queryable, events: StorageEvent[], source: string): Promise<number[]> {
  if (events.length === 0) return [];
  const r = await q.query<{ id: string }>(
    `INSERT INTO storage_events (event_type, event_name, bucket, object_key, size, etag, sequencer, event_time, source)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[],
                          $9::text[])
     RETURNING id`,
    [
      events.map((e) => e.type),
      events.map((e) => e.eventName),
      events.map((e) => e.bucket),
      events.map((e) => e.key),
      events.map((e) => e.size),
      events.map((e) => e.eTag),
      events.map((e) => e.sequencer),
      events.map((e) => e.eventTime),
      events.map((e) => `${source}:${e.source}`),
    ],
  );
  return r.rows.map((row) => Number(row.id));
}

/**
 * Due inbox rows of this bucket, oldest first, locked for the caller's transaction (SKIP LOCKED: workers share the
 * inbox; a worker configured for another bucket leaves them alone).
 */
export async function claimStorageEvents(q: Queryable, now: Date, limit: number, bucket: string): Promise<InboxRow[]> {
  const r = await q.query(
    `SELECT id, event_type, event_name, bucket, object_key, size, etag, sequencer, event_time, source, attempts
       FROM storage_events
      WHERE next_attempt_at <= $1 AND bucket = $3
      ORDER BY next_attempt_at, id
      LIMIT $2
        FOR UPDATE SKIP LOCKED`,
    [now, limit, bucket],
  );
  return r.rows.map((row: Record<string, unknown>) => ({
    id: Number(row.id),
    attempts: Number(row.attempts),
    event: {
      type: row.event_type as StorageEvent['type'],
      eventName: row.event_name as string,
      bucket: row.bucket as string,
      key: row.object_key as string,
      rawKey: row.object_key as string,
      size: row.size === null ? null : Number(row.size),
      eTag: (row.etag as string | null) ?? null,
      versionId: null,
      sequencer: (row.sequencer as string | null) ?? null,
      eventTime: (row.event_time as string | null) ?? null,
      source: row.source as string,
    },
  }));
}

export async function deleteStorageEvents(q: Queryable, ids: number[]): Promise<void> {
  if (ids.length > 0) await q.query('DELETE FROM storage_events WHERE id = ANY($1::bigint[])', [ids]);
}

export async function rescheduleStorageEvent(q: Queryable, id: number, at: Date, error: string): Promise<void> {
  await q.query(
    'UPDATE storage_events SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3 WHERE id = $1',
    [id, at, error.slice(0, 1000)],
  );
}

export async function countStorageEvents(q: Queryable): Promise<number> {
  const r = await q.query<{ n: string }>('SELECT count(*) AS n FROM storage_events');
  return Number(r.rows[0]!.n);
}
