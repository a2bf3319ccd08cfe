import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { s3err } from './errors.ts';
import type { NotificationTarget } from './store.ts';
import { el, list, parseXml, text, type XmlNode } from './xml.ts';

export const SUPPORTED_EVENTS = [
  's3:ObjectCreated:*',
  's3:ObjectCreated:Put',
  's3:ObjectCreated:Post',
  's3:ObjectCreated:Copy',
  's3:ObjectCreated:CompleteMultipartUpload',
  's3:ObjectRemoved:*',
  's3:ObjectRemoved:Delete',
];

export interface S3EventRecord {
  eventVersion: '2.1';
  eventSource: 'aws:s3';
  awsRegion: string;
  eventTime: string;
  eventName: string;
  userIdentity: { principalId: string };
  requestParameters: { sourceIPAddress: string };
  responseElements: { 'x-amz-request-id': string; 'x-amz-id-2': string };
  s3: {
    s3SchemaVersion: '1.0';
    configurationId: string;
    bucket: { name: string; ownerIdentity: { principalId: string }; arn: string };
    object: { key: string; size?: number; eTag?: string; sequencer: string };
  };
}

/** What a pending event waits for: the object version written (created) or removed under the key's lock. */
export interface EventMarker {
  bucket: string;
  key: string;
  kind: 'created' | 'removed';
  version: string;
}

/** Events written as pending before a commit: promote() once the commit is in place, discard() if it failed. */
export interface PreparedEvents {
  promote(): Promise<void>;
  discard(): Promise<void>;
}

const NO_EVENTS: PreparedEvents = { promote: async () => {}, discard: async () => {} };

export interface EventInput {
  bucket: string;
  key: string;
  /** without the s3: prefix, e.g. ObjectCreated:Put */
  eventName: string;
  size?: number;
  etag?: string;
  principal: string;
  sourceIp: string;
  requestId: string;
  hostId: string;
}

/** `arn:stowage:webhook:::<url-encoded URL>` or a bare http(s) URL → the webhook URL. */
export function webhookUrl(arn: string): string | undefined {
  let url = arn;
  const prefix = 'arn:stowage:webhook:::';
  if (arn.startsWith(prefix)) {
    try {
      url = decodeURIComponent(arn.slice(prefix.length));
    } catch {
      return undefined;
    }
  }
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.toString() : undefined;
  } catch {
    return undefined;
  }
}

export function parseNotificationConfig(body: Buffer): NotificationTarget[] {
  const root = parseXml(body, 'NotificationConfiguration');
  const out: NotificationTarget[] = [];
  const kinds = [
    ['TopicConfiguration', 'Topic', 'Topic'],
    ['QueueConfiguration', 'Queue', 'Queue'],
    ['CloudFunctionConfiguration', 'CloudFunction', 'CloudFunction'],
  ] as const;
  for (const [tag, kind, arnTag] of kinds) {
    for (const c of list(root, tag) as XmlNode[]) {
      const arn = text(c, arnTag)?.trim();
      if (!arn) throw s3err('MalformedXML');
      const url = webhookUrl(arn);
      if (!url) {
        throw s3err('InvalidArgument', `Unable to validate the following destination configurations: ${arn} (use an http(s) URL or arn:stowage:webhook:::<url-encoded URL>)`, {
          ArgumentName: arn,
          ArgumentValue: 'Unsupported destination',
        });
      }
      const events = list(c, 'Event').map((e) => String(e).trim());
      if (!events.length) throw s3err('MalformedXML');
      for (const e of events) {
        if (!SUPPORTED_EVENTS.includes(e)) throw s3err('InvalidArgument', `The event is not supported for notifications: ${e}`, { ArgumentName: 'Event', ArgumentValue: e });
      }
      const t: NotificationTarget = { id: text(c, 'Id')?.trim() || randomUUID(), kind, arn, url, events };
      const filter = c['Filter'] as XmlNode | undefined;
      const key = (filter?.['S3Key'] ?? undefined) as XmlNode | undefined;
      for (const rule of list(key, 'FilterRule') as XmlNode[]) {
        const name = text(rule, 'Name')?.trim().toLowerCase();
        const value = text(rule, 'Value') ?? '';
        if (name === 'prefix' && t.prefix === undefined) t.prefix = value;
        else if (name === 'suffix' && t.suffix === undefined) t.suffix = value;
        else throw s3err('InvalidArgument', 'FilterRule name must be either prefix or suffix (once each)', { ArgumentName: 'FilterRule.Name', ArgumentValue: String(name) });
      }
      out.push(t);
    }
  }
  return out;
}

async function syncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } catch {
    /* some filesystems refuse fsync on a directory */
  } finally {
    await fh.close();
  }
}

export function notificationXml(targets: NotificationTarget[]): string {
  const tags = { Topic: 'TopicConfiguration', Queue: 'QueueConfiguration', CloudFunction: 'CloudFunctionConfiguration' };
  return targets
    .map((t) => {
      const rules =
        (t.prefix !== undefined ? `<FilterRule><Name>prefix</Name>${el('Value', t.prefix)}</FilterRule>` : '') +
        (t.suffix !== undefined ? `<FilterRule><Name>suffix</Name>${el('Value', t.suffix)}</FilterRule>` : '');
      return (
        `<${tags[t.kind]}>` +
        el('Id', t.id) +
        el(t.kind, t.arn) +
        t.events.map((e) => el('Event', e)).join('') +
        (rules ? `<Filter><S3Key>${rules}</S3Key></Filter>` : '') +
        `</${tags[t.kind]}>`
      );
    })
    .join('');
}

function eventMatches(patterns: string[], eventName: string): boolean {
  const full = `s3:${eventName}`;
  return patterns.some((p) => p === full || (p.endsWith(':*') && full.startsWith(p.slice(0, -1))));
}

/** URL-encodes a key as S3 does in event records (form encoding: space → '+'). */
export function eventKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/').replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

interface QueueItem {
  id: string;
  /** only in a .pending file */
  marker?: EventMarker;
  url: string;
  body: string;
  attempts: number;
  nextAt: number;
}

export interface NotifierOptions {
  dir: string;
  region: string;
  log: (level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) => void;
  /** backoff after the n-th failed attempt */
  backoffMs?: (attempt: number) => number;
  timeoutMs?: number;
}

/**
 * Bucket notifications: builds AWS-format records (eventVersion 2.1), hands them to in-process subscribers and appends
 * webhook deliveries to an on-disk queue (one JSON file per delivery, written before the S3 response is sent), then
 * delivers them in order per URL, retrying with exponential backoff until the webhook answers 2xx. Pending deliveries are
 * reloaded on restart.
 */
export class Notifier {
  private queueDir: string;
  private queues = new Map<string, QueueItem[]>();
  private running = new Set<string>();
  private timers = new Map<string, NodeJS.Timeout>();
  private subscribers = new Set<(r: S3EventRecord) => void>();
  private closed = false;
  private seq = 0n;
  private lastMs = 0;
  private inflight = new Set<AbortController>();

  constructor(private readonly opts: NotifierOptions) {
    this.queueDir = path.join(opts.dir, 'events');
  }

  /**
   * Loads the queue. Pending events (written before a commit that a crash may have interrupted) are promoted when
   * `committed(marker)` says their commit is in place, and dropped otherwise.
   */
  async open(committed: (m: EventMarker) => boolean = () => false): Promise<void> {
    await fsp.mkdir(this.queueDir, { recursive: true });
    for (const f of (await fsp.readdir(this.queueDir)).filter((n) => n.endsWith('.pending'))) {
      const file = path.join(this.queueDir, f);
      let item: QueueItem | undefined;
      try {
        item = JSON.parse(await fsp.readFile(file, 'utf8')) as QueueItem;
      } catch {
        item = undefined;
      }
      if (item?.marker && committed(item.marker)) {
        await fsp.rename(file, path.join(this.queueDir, `${item.id}.json`));
        this.opts.log('info', 'objectstore: promoted an event whose commit completed before a crash', { id: item.id });
      } else {
        await fsp.rm(file, { force: true });
      }
    }
    const files = (await fsp.readdir(this.queueDir)).filter((f) => f.endsWith('.json')).sort();
    for (const f of files) {
      try {
        const item = JSON.parse(await fsp.readFile(path.join(this.queueDir, f), 'utf8')) as QueueItem;
        item.nextAt = 0;
        this.enqueue(item);
      } catch {
        await fsp.rm(path.join(this.queueDir, f), { force: true });
      }
    }
    for (const url of this.queues.keys()) this.kick(url);
  }

  subscribe(fn: (r: S3EventRecord) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  /** Monotonic hex sequencer (S3 compares sequencers as hex strings of equal length). */
  private sequencer(): string {
    const now = Date.now();
    if (now > this.lastMs) {
      this.lastMs = now;
    }
    this.seq = this.seq + 1n;
    const v = (BigInt(this.lastMs) << 20n) + (this.seq & 0xfffffn);
    return v.toString(16).toUpperCase().padStart(16, '0');
  }

  private record(ev: EventInput, configurationId: string, sequencer: string, time: string): S3EventRecord {
    const object: S3EventRecord['s3']['object'] = { key: eventKey(ev.key), sequencer };
    if (ev.size !== undefined) object.size = ev.size;
    if (ev.etag !== undefined) object.eTag = ev.etag;
    const rec: S3EventRecord = {
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: this.opts.region,
      eventTime: time,
      eventName: ev.eventName,
      userIdentity: { principalId: ev.principal },
      requestParameters: { sourceIPAddress: ev.sourceIp },
      responseElements: { 'x-amz-request-id': ev.requestId, 'x-amz-id-2': ev.hostId },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId,
        bucket: { name: ev.bucket, ownerIdentity: { principalId: ev.principal }, arn: `arn:aws:s3:::${ev.bucket}` },
        object,
      },
    };
    return rec;
  }

  /**
   * Before a commit (under the key's lock): writes the webhook deliveries of `events` as pending files (fsynced) and
   * returns the handle that publishes them after the commit (deliveries queued, subscribers called) or drops them.
   * A failure to write them fails the commit. Nothing is written when no webhook is configured for these events.
   */
  async prepare(targets: NotificationTarget[] | undefined, events: EventInput[], marker: EventMarker): Promise<PreparedEvents> {
    if (!events.length || (!this.subscribers.size && !targets?.length)) return NO_EVENTS;
    const records: S3EventRecord[] = [];
    const items: QueueItem[] = [];
    for (const ev of events) {
      const sequencer = this.sequencer();
      const time = new Date().toISOString();
      if (this.subscribers.size) records.push(this.record(ev, 'stowage-subscriber', sequencer, time));
      for (const t of targets ?? []) {
        if (!eventMatches(t.events, ev.eventName)) continue;
        if (t.prefix !== undefined && !ev.key.startsWith(t.prefix)) continue;
        if (t.suffix !== undefined && !ev.key.endsWith(t.suffix)) continue;
        const body = JSON.stringify({ Records: [this.record(ev, t.id, sequencer, time)] });
        items.push({ id: `${Date.now().toString().padStart(15, '0')}-${sequencer}-${randomUUID()}`, url: t.url, body, attempts: 0, nextAt: 0 });
      }
    }
    const written: string[] = [];
    const drop = async () => {
      for (const f of written) await fsp.rm(f, { force: true }).catch(() => {});
    };
    try {
      for (const item of items) {
        const file = path.join(this.queueDir, `${item.id}.pending`);
        const fh = await fsp.open(file, 'wx');
        written.push(file);
        try {
          await fh.writeFile(JSON.stringify({ ...item, marker }));
          await fh.sync();
        } finally {
          await fh.close();
        }
      }
      if (items.length) await syncDir(this.queueDir);
    } catch (e) {
      await drop();
      throw e;
    }
    return {
      discard: drop,
      promote: async () => {
        for (const r of records) {
          for (const fn of this.subscribers) {
            try {
              fn(r);
            } catch (e) {
              this.opts.log('warn', 'objectstore: event subscriber threw', { err: String(e) });
            }
          }
        }
        for (const item of items) await fsp.rename(path.join(this.queueDir, `${item.id}.pending`), path.join(this.queueDir, `${item.id}.json`));
        if (items.length) await syncDir(this.queueDir);
        for (const item of items) {
          this.enqueue(item);
          this.kick(item.url);
        }
      },
    };
  }

  pending(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  private enqueue(item: QueueItem) {
    let q = this.queues.get(item.url);
    if (!q) this.queues.set(item.url, (q = []));
    q.push(item);
  }

  private kick(url: string) {
    if (this.closed || this.running.has(url)) return;
    const t = this.timers.get(url);
    if (t) {
      clearTimeout(t);
      this.timers.delete(url);
    }
    this.running.add(url);
    void this.drain(url).finally(() => this.running.delete(url));
  }

  private async drain(url: string): Promise<void> {
    const q = this.queues.get(url);
    while (q && q.length && !this.closed) {
      const item = q[0];
      const wait = item.nextAt - Date.now();
      if (wait > 0) {
        this.timers.set(
          url,
          setTimeout(() => {
            this.timers.delete(url);
            this.kick(url);
          }, wait),
        );
        return;
      }
      const ok = await this.deliver(item);
      if (this.closed) return;
      if (ok) {
        q.shift();
        await fsp.rm(path.join(this.queueDir, `${item.id}.json`), { force: true });
      } else {
        item.attempts++;
        const backoff = this.opts.backoffMs ? this.opts.backoffMs(item.attempts) : Math.min(30_000, 250 * 2 ** Math.min(item.attempts - 1, 10));
        item.nextAt = Date.now() + backoff;
      }
    }
  }

  private async deliver(item: QueueItem): Promise<boolean> {
    const ac = new AbortController();
    this.inflight.add(ac);
    const timer = setTimeout(() => ac.abort(), this.opts.timeoutMs ?? 10_000);
    try {
      const res = await fetch(item.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'stowage-objectstore' },
        body: item.body,
        signal: ac.signal,
      });
      await res.arrayBuffer().catch(() => {});
      if (res.status >= 200 && res.status < 300) return true;
      this.opts.log('warn', 'objectstore: webhook answered an error; will retry', { url: item.url, status: res.status, attempts: item.attempts + 1 });
      return false;
    } catch (e) {
      if (!this.closed) this.opts.log('warn', 'objectstore: webhook unreachable; will retry', { url: item.url, err: String(e), attempts: item.attempts + 1 });
      return false;
    } finally {
      clearTimeout(timer);
      this.inflight.delete(ac);
    }
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const ac of this.inflight) ac.abort();
  }
}
