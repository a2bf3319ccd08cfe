// Pure parsing of S3 event notifications (no I/O, no clock).
//
// Accepts every shape a notification reaches Stowage in:
//  - AWS S3 records ({"Records":[{eventVersion:"2.1", eventSource:"aws:s3", …}]}), eventVersion 2.x;
//  - Ceph RGW records (eventVersion "2.2", eventSource "ceph:s3", empty awsRegion, unquoted eTag);
//  - MinIO webhook bodies ({EventName, Key, Records:[…]}, eventName with an "s3:" prefix);
//  - SNS envelopes ({"Type":"Notification","Message":"<json>"}) around any of the above, as an SQS queue subscribed
//    to an SNS topic receives them (raw message delivery off);
//  - the s3:TestEvent S3 sends when a notification configuration is saved;
//  - anything else, which is reported as a problem rather than thrown.
// Object keys in AWS (and MinIO) records are URL-encoded the way HTML forms are ("+" is a space); they are decoded
// here. Ceph RGW sends keys raw (verified against RGW 16: a key "a b+c.txt" arrives as "a b+c.txt"), so records whose
// eventSource is "ceph:s3" are not decoded.

export type StorageEventType = 'created' | 'removed' | 'other';

export interface StorageEvent {
  type: StorageEventType;
  /** Event name without the "s3:" prefix, e.g. "ObjectCreated:Put", "ObjectRemoved:Delete". */
  eventName: string;
  bucket: string;
  /** Object key as Stowage names it (decoded where the source encodes it). */
  key: string;
  /** The key exactly as the record carried it (differs from `key` only for URL-encoded sources). */
  rawKey: string;
  /** Object size in bytes when the record carries one (ObjectCreated). */
  size: number | null;
  /** ETag without surrounding quotes, or null. */
  eTag: string | null;
  versionId: string | null;
  sequencer: string | null;
  eventTime: string | null;
  /** eventSource of the record: "aws:s3", "ceph:s3", "minio:s3", … */
  source: string;
}

export interface ParsedNotification {
  events: StorageEvent[];
  /** Number of s3:TestEvent messages seen (nothing to do, but not malformed). */
  testEvents: number;
  /** SNS subscription confirmations seen (SubscribeURL to visit); never acted upon automatically. */
  subscriptionConfirmations: string[];
  /** Human-readable reasons for every part of the input that could not be understood. */
  problems: string[];
}

/** Event sources whose records carry object keys unencoded. */
const KEYS_NOT_ENCODED = new Set(['ceph:s3']);

const MAX_DEPTH = 3; // envelope nesting we are willing to unwrap (SNS inside SQS inside …)

export function emptyNotification(): ParsedNotification {
  return { events: [], testEvents: 0, subscriptionConfirmations: [], problems: [] };
}

/** True when nothing in the input was understood: it should be logged and dropped, never retried. */
export function isMalformed(p: ParsedNotification): boolean {
  return p.events.length === 0 && p.testEvents === 0 && p.subscriptionConfirmations.length === 0 && p.problems.length > 0;
}

/**
 * Parses a notification body: a JSON string, a Buffer-decoded string, or an already-parsed value.
 * Never throws.
 */
export function parseStorageNotification(input: unknown): ParsedNotification {
  const out = emptyNotification();
  visit(input, out, 0);
  if (out.events.length === 0 && out.testEvents === 0 && out.subscriptionConfirmations.length === 0 &&
      out.problems.length === 0) {
    out.problems.push('no records');
  }
  return out;
}

function visit(input: unknown, out: ParsedNotification, depth: number): void {
  if (depth > MAX_DEPTH) {
    out.problems.push('envelopes nested too deeply');
    return;
  }
  let value = input;
  if (typeof value === 'string') {
    const text = value.trim();
    if (text === '') {
      out.problems.push('empty body');
      return;
    }
    try {
      value = JSON.parse(text);
    } catch {
      out.problems.push('body is not JSON');
      return;
    }
  }
  if (!isObject(value)) {
    out.problems.push(`expected a JSON object, got ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}`);
    return;
  }

  // SNS envelope (HTTP subscription body, or SQS message body without raw delivery).
  if (typeof value.Type === 'string' && ('Message' in value || 'SubscribeURL' in value)) {
    if (value.Type === 'SubscriptionConfirmation' || value.Type === 'UnsubscribeConfirmation') {
      if (typeof value.SubscribeURL === 'string') out.subscriptionConfirmations.push(value.SubscribeURL);
      else out.problems.push(`SNS ${value.Type} without SubscribeURL`);
      return;
    }
    if (value.Type === 'Notification') {
      if (typeof value.Message !== 'string') {
        out.problems.push('SNS notification without a string Message');
        return;
      }
      visit(value.Message, out, depth + 1);
      return;
    }
    out.problems.push(`unknown SNS message type ${JSON.stringify(value.Type).slice(0, 60)}`);
    return;
  }

  // s3:TestEvent (sent by S3 when a notification configuration is put).
  if (value.Event === 's3:TestEvent') {
    out.testEvents += 1;
    return;
  }

  if ('Records' in value) {
    const records = value.Records;
    if (!Array.isArray(records)) {
      out.problems.push('Records is not an array');
      return;
    }
    if (records.length === 0) {
      out.problems.push('Records is empty');
      return;
    }
    records.forEach((r, i) => {
      const parsed = parseRecord(r);
      if (typeof parsed === 'string') out.problems.push(`record ${i}: ${parsed}`);
      else out.events.push(parsed);
    });
    return;
  }

  out.problems.push('not an S3 event notification (no Records)');
}

function parseRecord(r: unknown): StorageEvent | string {
  if (!isObject(r)) return 'not an object';
  const version = typeof r.eventVersion === 'string' ? r.eventVersion : '';
  if (!/^2(\.\d+)*$/.test(version)) return `unsupported eventVersion ${JSON.stringify(r.eventVersion ?? null)}`;
  const rawName = typeof r.eventName === 'string' ? r.eventName : '';
  if (rawName === '') return 'missing eventName';
  const eventName = rawName.startsWith('s3:') ? rawName.slice(3) : rawName;
  const s3 = r.s3;
  if (!isObject(s3)) return 'missing s3';
  const bucketObj = s3.bucket;
  const objectObj = s3.object;
  if (!isObject(bucketObj) || typeof bucketObj.name !== 'string' || bucketObj.name === '') return 'missing s3.bucket.name';
  if (!isObject(objectObj) || typeof objectObj.key !== 'string' || objectObj.key === '') return 'missing s3.object.key';
  const source = typeof r.eventSource === 'string' ? r.eventSource : '';
  const rawKey = objectObj.key;
  const key = KEYS_NOT_ENCODED.has(source) ? rawKey : decodeS3Key(rawKey);
  if (key === null) return 'object key is not valid URL encoding';

  let size: number | null = null;
  if (objectObj.size !== undefined && objectObj.size !== null) {
    const n = typeof objectObj.size === 'string' ? Number(objectObj.size) : objectObj.size;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) return 'invalid s3.object.size';
    size = n;
  }
  return {
    type: eventName.startsWith('ObjectCreated:') ? 'created' : eventName.startsWith('ObjectRemoved:') ? 'removed' : 'other',
    eventName,
    bucket: bucketObj.name,
    key,
    rawKey,
    size,
    eTag: normaliseETag(objectObj.eTag),
    versionId: nonEmptyString(objectObj.versionId),
    sequencer: nonEmptyString(objectObj.sequencer),
    eventTime: nonEmptyString(r.eventTime),
    source,
  };
}

/** S3 URL-encodes keys in event records like a form: "+" stands for a space. Returns null when undecodable. */
export function decodeS3Key(raw: string): string | null {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}

export function normaliseETag(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const t = v.trim().replace(/^W\//, '').replace(/^"+|"+$/g, '');
  return t === '' ? null : t;
}

function nonEmptyString(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
