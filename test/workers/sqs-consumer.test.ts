// The SQS consumer against test/helpers/sqs-fixture.ts: a real HTTP server speaking the SQS JSON protocol that
// @aws-sdk/client-sqs uses. No SQS server can run in this environment (no network to AWS, no local SQS package), so
// the fixture stands in for the queue; the consumer, the SDK client and the wire protocol are the real ones.
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StorageEvent } from '../../src/domain/storage-events.ts';
import { pollOnce, startSqsConsumer, type ConsumerLog } from '../../src/workers/sqs-consumer.ts';
import { startSqsFixture, type SqsFixture } from '../helpers/sqs-fixture.ts';

const record = (key: string, eventName = 'ObjectCreated:Put') => ({
  eventVersion: '2.1', eventSource: 'aws:s3', awsRegion: 'us-east-1', eventTime: new Date(0).toISOString(), eventName,
  s3: { s3SchemaVersion: '1.0', bucket: { name: 'uploads' }, object: { key, size: 3, eTag: 'abc' } },
});

function memoryLog() {
  const lines: Array<{ level: string; obj: object; msg?: string }> = [];
  const log: ConsumerLog = {
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj, msg }),
  };
  return { log, lines };
}

describe('SQS consumer (against the SQS-protocol fixture)', () => {
  let sqs: SqsFixture;
  let client: SQSClient;
  beforeAll(async () => {
    sqs = await startSqsFixture();
    client = new SQSClient({ endpoint: sqs.endpoint, region: sqs.region, credentials: sqs.credentials });
  });
  afterAll(async () => {
    client.destroy();
    await sqs.close();
  });

  it('processes S3 records, SNS-wrapped records, encoded keys, test events and malformed bodies; deletes each once done', async () => {
    const q = sqs.createQueue(`q-${Date.now()}-a`);
    sqs.send(q, JSON.stringify({ Records: [record('workspaces/w/files/a+b%2Bc.txt')] }));
    sqs.send(q, JSON.stringify({ Type: 'Notification', Message: JSON.stringify({ Records: [record('k2', 'ObjectRemoved:Delete')] }) }));
    sqs.send(q, JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'uploads' }));
    sqs.send(q, 'this is not json');
    sqs.send(q, JSON.stringify({ hello: 'world' }));
    const seen: StorageEvent[] = [];
    const { log, lines } = memoryLog();
    const stats = await pollOnce({ client, queueUrl: q, log, waitTimeSeconds: 1, handle: async (ev) => { seen.push(...ev); } });
    expect(stats).toMatchObject({ received: 5, processed: 2, tests: 1, malformed: 2, failed: 0, events: 2 });
    expect(seen.map((e) => [e.type, e.key]).sort()).toEqual([['created', 'workspaces/w/files/a b+c.txt'], ['removed', 'k2']]);
    expect(sqs.depth(q)).toEqual({ visible: 0, inFlight: 0 });
    expect(lines.filter((l) => l.msg?.includes('malformed'))).toHaveLength(2);
  });

  it('long-polls: a message sent while the receive waits is delivered by that receive', async () => {
    const q = sqs.createQueue(`q-${Date.now()}-b`);
    const seen: string[] = [];
    const { log } = memoryLog();
    setTimeout(() => sqs.send(q, JSON.stringify({ Records: [record('late')] })), 300);
    const stats = await pollOnce({ client, queueUrl: q, log, waitTimeSeconds: 5, handle: async (ev) => { seen.push(...ev.map((e) => e.key)); } });
    expect(stats.received).toBe(1);
    expect(seen).toEqual(['late']);
    const receive = sqs.calls.filter((c) => c.op === 'ReceiveMessage' && c.input.QueueUrl === q);
    expect(receive[0]!.input).toMatchObject({ WaitTimeSeconds: 5, MaxNumberOfMessages: 10 });
  });

  it('extends visibility while slow work runs, so no second consumer gets the message; deletes only afterwards', async () => {
    const q = sqs.createQueue(`q-${Date.now()}-c`);
    sqs.send(q, JSON.stringify({ Records: [record('slow')] }));
    const { log } = memoryLog();
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    let calls = 0;
    const slow = pollOnce({ client, queueUrl: q, log, waitTimeSeconds: 1, visibilityTimeout: 1, handle: async () => { calls += 1; await gate; } });
    // Wait across several visibility timeouts; a second consumer must see nothing, and the message must not be deleted.
    await new Promise((r) => setTimeout(r, 2500));
    const other = await pollOnce({ client, queueUrl: q, log, waitTimeSeconds: 0, handle: async () => { calls += 1; } });
    expect(other.received).toBe(0);
    expect(sqs.depth(q)).toEqual({ visible: 0, inFlight: 1 });
    const extends_ = sqs.calls.filter((c) => c.op === 'ChangeMessageVisibility' && c.input.QueueUrl === q);
    expect(extends_.length).toBeGreaterThanOrEqual(2);
    release();
    expect((await slow).processed).toBe(1);
    expect(calls).toBe(1);
    expect(sqs.depth(q)).toEqual({ visible: 0, inFlight: 0 });
  });

  it('a failing handler leaves the message for retry; after maxReceiveCount it is dropped, not retried forever', async () => {
    const q = sqs.createQueue(`q-${Date.now()}-d`);
    sqs.send(q, JSON.stringify({ Records: [record('poison')] }));
    const { log, lines } = memoryLog();
    const opts = { client, queueUrl: q, log, waitTimeSeconds: 2, maxReceiveCount: 3, retryBackoffSeconds: 0,
      handle: async () => { throw new Error('database unavailable'); } };
    expect(await pollOnce(opts)).toMatchObject({ received: 1, failed: 1 });
    expect(sqs.depth(q).visible + sqs.depth(q).inFlight).toBe(1);
    expect(await pollOnce(opts)).toMatchObject({ received: 1, failed: 1 });
    expect(await pollOnce(opts)).toMatchObject({ received: 1, dropped: 1 });
    expect(sqs.depth(q)).toEqual({ visible: 0, inFlight: 0 });
    expect(lines.some((l) => l.level === 'error' && l.msg?.includes('too many times'))).toBe(true);
  });

  it('a transient failure is retried and then succeeds exactly once', async () => {
    const q = sqs.createQueue(`q-${Date.now()}-e`);
    sqs.send(q, JSON.stringify({ Records: [record('flaky')] }));
    const { log } = memoryLog();
    let attempts = 0;
    let successes = 0;
    const consumer = startSqsConsumer({ client, queueUrl: q, log, waitTimeSeconds: 1, retryBackoffSeconds: 0,
      handle: async () => { attempts += 1; if (attempts < 3) throw new Error('transient'); successes += 1; } });
    const until = Date.now() + 15_000;
    while (successes === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    await consumer.stop();
    expect(successes).toBe(1);
    expect(attempts).toBe(3);
    expect(sqs.depth(q)).toEqual({ visible: 0, inFlight: 0 });
  });

  it('keeps running when SQS itself fails (unknown queue), and stops promptly', async () => {
    const { log, lines } = memoryLog();
    const consumer = startSqsConsumer({ client, queueUrl: `${sqs.endpoint}/000000000000/nope`, log, waitTimeSeconds: 1, handle: async () => {} });
    await new Promise((r) => setTimeout(r, 300));
    await consumer.stop();
    expect(lines.some((l) => l.level === 'error' && l.msg === 'sqs: receive failed')).toBe(true);
  });
});
