import { describe, expect, it } from 'vitest';
import { decodeS3Key, isMalformed, normaliseETag, parseStorageNotification } from '../../src/domain/storage-events.ts';

const awsRecord = {
  eventVersion: '2.1',
  eventSource: 'aws:s3',
  awsRegion: 'us-east-1',
  eventTime: '2026-11-24T04:00:00.000Z',
  eventName: 'ObjectCreated:Put',
  s3: {
    s3SchemaVersion: '1.0',
    configurationId: 'stowage',
    bucket: { name: 'uploads', arn: 'arn:aws:s3:::uploads' },
    object: { key: 'workspaces/ws1/files/abc.png', size: 1024, eTag: 'd41d8cd98f00b204e9800998ecf8427e', sequencer: '0A1B2C' },
  },
};

// Shape as Ceph RGW 16 pushes it (captured from a real RGW in test/api/events-rgw.test.ts).
const rgwRecord = {
  eventVersion: '2.2',
  eventSource: 'ceph:s3',
  awsRegion: '',
  eventTime: '2026-11-24T04:00:00.000000Z',
  eventName: 'ObjectCreated:Put',
  userIdentity: { principalId: 'tester' },
  requestParameters: { sourceIPAddress: '' },
  responseElements: { 'x-amz-request-id': 'x', 'x-amz-id-2': 'y' },
  s3: {
    s3SchemaVersion: '1.0',
    configurationId: 'stowage',
    bucket: { name: 'stowage', ownerIdentity: { principalId: 'tester' }, arn: 'arn:aws:s3:::stowage', id: 'z' },
    object: { key: 'workspaces/ws1/files/abc.png', size: 5, eTag: '5d41402abc4b2a76b9719d911017c592', versionId: '', sequencer: '1F2E', metadata: [], tags: [] },
  },
  eventId: '1',
  opaqueData: '',
};

describe('parseStorageNotification', () => {
  it('parses AWS 2.1 records', () => {
    const p = parseStorageNotification(JSON.stringify({ Records: [awsRecord] }));
    expect(p.problems).toEqual([]);
    expect(p.events).toEqual([
      {
        type: 'created', eventName: 'ObjectCreated:Put', bucket: 'uploads', key: 'workspaces/ws1/files/abc.png',
        rawKey: 'workspaces/ws1/files/abc.png', size: 1024, eTag: 'd41d8cd98f00b204e9800998ecf8427e', versionId: null, sequencer: '0A1B2C',
        eventTime: '2026-11-24T04:00:00.000Z', source: 'aws:s3',
      },
    ]);
  });

  it('parses RGW 2.2 records (ceph:s3, empty region, unquoted eTag, empty versionId)', () => {
    const p = parseStorageNotification({ Records: [rgwRecord] });
    expect(p.problems).toEqual([]);
    expect(p.events[0]).toMatchObject({ type: 'created', source: 'ceph:s3', bucket: 'stowage', size: 5, eTag: '5d41402abc4b2a76b9719d911017c592', versionId: null });
  });

  it('parses MinIO bodies with s3: prefixed event names and quoted eTags', () => {
    const rec = { ...awsRecord, eventSource: 'minio:s3', eventName: 's3:ObjectRemoved:Delete', s3: { ...awsRecord.s3, object: { key: 'a', eTag: '"abc"' } } };
    const p = parseStorageNotification({ EventName: 's3:ObjectRemoved:Delete', Key: 'uploads/a', Records: [rec] });
    expect(p.events[0]).toMatchObject({ type: 'removed', eventName: 'ObjectRemoved:Delete', key: 'a', size: null, eTag: 'abc' });
  });

  it('unwraps SNS envelopes (also nested in a string)', () => {
    const sns = { Type: 'Notification', MessageId: 'm', TopicArn: 'arn:aws:sns:x', Message: JSON.stringify({ Records: [awsRecord] }) };
    expect(parseStorageNotification(JSON.stringify(sns)).events).toHaveLength(1);
    expect(parseStorageNotification(sns).events[0]!.key).toBe('workspaces/ws1/files/abc.png');
  });

  it('recognises s3:TestEvent, also inside SNS', () => {
    const test = { Service: 'Amazon S3', Event: 's3:TestEvent', Time: '2026-11-24T04:00:00Z', Bucket: 'uploads', RequestId: 'r', HostId: 'h' };
    const p = parseStorageNotification(JSON.stringify(test));
    expect(p).toMatchObject({ events: [], testEvents: 1, problems: [] });
    expect(isMalformed(p)).toBe(false);
    expect(parseStorageNotification({ Type: 'Notification', Message: JSON.stringify(test) }).testEvents).toBe(1);
  });

  it('reports SNS subscription confirmations without acting on them', () => {
    const p = parseStorageNotification({ Type: 'SubscriptionConfirmation', SubscribeURL: 'https://sns.example/confirm', Message: 'x' });
    expect(p.subscriptionConfirmations).toEqual(['https://sns.example/confirm']);
    expect(isMalformed(p)).toBe(false);
  });

  it('decodes URL-encoded keys with + as space', () => {
    const rec = { ...awsRecord, s3: { ...awsRecord.s3, object: { key: 'workspaces/w/files/my+photo%2B1%20%C3%A9.png', size: 1 } } };
    expect(parseStorageNotification({ Records: [rec] }).events[0]!.key).toBe('workspaces/w/files/my photo+1 é.png');
    expect(decodeS3Key('a%ZZ')).toBeNull();
  });

  it('does not decode RGW keys (RGW sends them raw)', () => {
    const rec = { ...rgwRecord, s3: { ...rgwRecord.s3, object: { ...rgwRecord.s3.object, key: 'workspaces/a b+c%41.txt' } } };
    const ev = parseStorageNotification({ Records: [rec] }).events[0]!;
    expect(ev.key).toBe('workspaces/a b+c%41.txt');
    expect(ev.rawKey).toBe('workspaces/a b+c%41.txt');
  });

  it('classifies other events', () => {
    const rec = { ...awsRecord, eventName: 'ObjectRestore:Completed' };
    expect(parseStorageNotification({ Records: [rec] }).events[0]!.type).toBe('other');
  });

  it('keeps good records and reports bad ones in the same body', () => {
    const bad = { ...awsRecord, eventVersion: '1.0' };
    const noKey = { ...awsRecord, s3: { bucket: { name: 'b' }, object: {} } };
    const badSize = { ...awsRecord, s3: { ...awsRecord.s3, object: { key: 'k', size: -1 } } };
    const badKey = { ...awsRecord, s3: { ...awsRecord.s3, object: { key: '%E0%A4%A' } } };
    const p = parseStorageNotification({ Records: [bad, awsRecord, noKey, badSize, badKey, 'x'] });
    expect(p.events).toHaveLength(1);
    expect(p.problems).toHaveLength(5);
    expect(p.problems[0]).toMatch(/eventVersion/);
    expect(isMalformed(p)).toBe(false);
  });

  it.each([
    ['', /empty/],
    ['not json', /not JSON/],
    ['[]', /array/],
    ['null', /null/],
    ['42', /number/],
    ['{}', /no Records/],
    ['{"Records":{}}', /not an array/],
    ['{"Records":[]}', /empty/],
    [JSON.stringify({ Type: 'Notification', Message: 5 }), /string Message/],
    [JSON.stringify({ Type: 'Notification', Message: 'garbage' }), /not JSON/],
    [JSON.stringify({ Type: 'Weird', Message: '{}' }), /unknown SNS/],
  ])('reports malformed input %j', (body, reason) => {
    const p = parseStorageNotification(body);
    expect(isMalformed(p)).toBe(true);
    expect(p.problems.join(' ')).toMatch(reason);
  });

  it('refuses envelopes nested without end', () => {
    let body = JSON.stringify({ Records: [awsRecord] });
    for (let i = 0; i < 6; i++) body = JSON.stringify({ Type: 'Notification', Message: body });
    expect(isMalformed(parseStorageNotification(body))).toBe(true);
  });

  it('normalises eTags', () => {
    expect(normaliseETag('"abc"')).toBe('abc');
    expect(normaliseETag('W/"abc-2"')).toBe('abc-2');
    expect(normaliseETag('')).toBeNull();
    expect(normaliseETag(5)).toBeNull();
  });
});
