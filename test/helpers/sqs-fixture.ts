// A small SQS-protocol server for tests. No SQS server can run in this environment (AWS SQS needs the network and
// an account; there is no packaged local SQS here), so the SQS consumer is tested against this fixture: a real HTTP
// server speaking the protocol @aws-sdk/client-sqs v3 uses — AWS JSON 1.0 (`Content-Type: application/x-amz-json-1.0`,
// `X-Amz-Target: AmazonSQS.<Operation>`, JSON bodies, errors as `{"__type","message"}` plus the
// `x-amzn-query-error` header for query compatibility). It keeps in-memory queues with real visibility-timeout
// semantics (received messages are hidden until the timeout passes or ChangeMessageVisibility changes it; a receipt
// handle is invalidated when the message is received again), long polling (WaitTimeSeconds), ApproximateReceiveCount
// and MD5OfBody (the SDK verifies it). It does not verify SigV4 signatures, FIFO queues, batches, or redrive policies.
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface StoredMessage {
  id: string;
  body: string;
  md5: string;
  receiveCount: number;
  visibleAt: number;
  receipt: string | null;
  sentAt: number;
}

interface Queue {
  name: string;
  url: string;
  visibilityTimeout: number;
  messages: StoredMessage[];
  waiters: Set<() => void>;
}

export interface SqsCall {
  op: string;
  input: Record<string, unknown>;
}

export interface SqsFixture {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  createQueue(name: string, opts?: { visibilityTimeout?: number }): string;
  send(queueUrl: string, body: string): string;
  /** Messages still in the queue (visible or in flight). */
  depth(queueUrl: string): { visible: number; inFlight: number };
  calls: SqsCall[];
  close(): Promise<void>;
}

class SqsError extends Error {
  constructor(readonly code: string, message: string, readonly status = 400) {
    super(message);
  }
}

const md5 = (s: string): string => createHash('md5').update(s, 'utf8').digest('hex');

export async function startSqsFixture(): Promise<SqsFixture> {
  const queues = new Map<string, Queue>();
  const calls: SqsCall[] = [];
  let base = '';
  let closed = false;

  const queueFor = (input: Record<string, unknown>): Queue => {
    const url = input.QueueUrl;
    if (typeof url !== 'string') throw new SqsError('com.amazonaws.sqs#MissingParameter', 'QueueUrl is required');
    const name = url.split('/').pop() ?? '';
    const q = queues.get(name);
    if (!q) throw new SqsError('com.amazonaws.sqs#QueueDoesNotExist', 'The specified queue does not exist.');
    return q;
  };

  const createQueue = (name: string, opts: { visibilityTimeout?: number } = {}): string => {
    let q = queues.get(name);
    if (!q) {
      q = { name, url: `${base}/000000000000/${name}`, visibilityTimeout: opts.visibilityTimeout ?? 30, messages: [], waiters: new Set() };
      queues.set(name, q);
    }
    return q.url;
  };

  const send = (q: Queue, body: string): StoredMessage => {
    const m: StoredMessage = { id: randomUUID(), body, md5: md5(body), receiveCount: 0, visibleAt: 0, receipt: null, sentAt: Date.now() };
    q.messages.push(m);
    for (const w of [...q.waiters]) w();
    return m;
  };

  const findByReceipt = (q: Queue, receipt: unknown): StoredMessage => {
    if (typeof receipt !== 'string') throw new SqsError('com.amazonaws.sqs#MissingParameter', 'ReceiptHandle is required');
    const m = q.messages.find((x) => x.receipt === receipt);
    if (!m) throw new SqsError('com.amazonaws.sqs#ReceiptHandleIsInvalid', `The receipt handle "${receipt}" is not valid.`);
    return m;
  };

  const takeVisible = (q: Queue, max: number, visibility: number): StoredMessage[] => {
    const now = Date.now();
    const out: StoredMessage[] = [];
    for (const m of q.messages) {
      if (out.length >= max) break;
      if (m.visibleAt > now) continue;
      m.receiveCount += 1;
      m.receipt = randomUUID();
      m.visibleAt = now + visibility * 1000;
      out.push(m);
    }
    return out;
  };

  const nextVisibleIn = (q: Queue): number => {
    const now = Date.now();
    let min = Infinity;
    for (const m of q.messages) min = Math.min(min, Math.max(0, m.visibleAt - now));
    return min;
  };

  const ops: Record<string, (input: Record<string, unknown>) => Promise<unknown> | unknown> = {
    CreateQueue: (input) => {
      const name = String(input.QueueName ?? '');
      const attrs = (input.Attributes ?? {}) as Record<string, string>;
      return { QueueUrl: createQueue(name, { visibilityTimeout: attrs.VisibilityTimeout ? Number(attrs.VisibilityTimeout) : undefined }) };
    },
    GetQueueUrl: (input) => {
      const q = queues.get(String(input.QueueName ?? ''));
      if (!q) throw new SqsError('com.amazonaws.sqs#QueueDoesNotExist', 'The specified queue does not exist.');
      return { QueueUrl: q.url };
    },
    SendMessage: (input) => {
      const q = queueFor(input);
      if (typeof input.MessageBody !== 'string' || input.MessageBody === '') {
        throw new SqsError('com.amazonaws.sqs#MissingParameter', 'MessageBody is required');
      }
      const m = send(q, input.MessageBody);
      return { MessageId: m.id, MD5OfMessageBody: m.md5 };
    },
    ReceiveMessage: async (input) => {
      const q = queueFor(input);
      const max = Math.min(10, Math.max(1, Number(input.MaxNumberOfMessages ?? 1)));
      const visibility = input.VisibilityTimeout !== undefined ? Number(input.VisibilityTimeout) : q.visibilityTimeout;
      const wait = Math.min(20, Math.max(0, Number(input.WaitTimeSeconds ?? 0)));
      const deadline = Date.now() + wait * 1000;
      let got = takeVisible(q, max, visibility);
      while (got.length === 0 && !closed && Date.now() < deadline) {
        const sleep = Math.min(deadline - Date.now(), nextVisibleIn(q));
        await new Promise<void>((resolve) => {
          const done = () => { clearTimeout(t); q.waiters.delete(done); resolve(); };
          const t = setTimeout(done, Math.max(5, sleep));
          q.waiters.add(done);
        });
        got = takeVisible(q, max, visibility);
      }
      return {
        Messages: got.map((m) => ({
          MessageId: m.id,
          ReceiptHandle: m.receipt,
          MD5OfBody: m.md5,
          Body: m.body,
          Attributes: { ApproximateReceiveCount: String(m.receiveCount), SentTimestamp: String(m.sentAt) },
        })),
      };
    },
    DeleteMessage: (input) => {
      const q = queueFor(input);
      const m = findByReceipt(q, input.ReceiptHandle);
      q.messages.splice(q.messages.indexOf(m), 1);
      return {};
    },
    ChangeMessageVisibility: (input) => {
      const q = queueFor(input);
      const m = findByReceipt(q, input.ReceiptHandle);
      const t = Number(input.VisibilityTimeout);
      if (!Number.isInteger(t) || t < 0 || t > 43200) throw new SqsError('com.amazonaws.sqs#InvalidParameterValue', 'VisibilityTimeout out of range');
      if (m.visibleAt <= Date.now()) throw new SqsError('com.amazonaws.sqs#MessageNotInflight', 'The message is not in flight.');
      m.visibleAt = Date.now() + t * 1000;
      if (t === 0) for (const w of [...q.waiters]) w();
      return {};
    },
    GetQueueAttributes: (input) => {
      const q = queueFor(input);
      const now = Date.now();
      return {
        Attributes: {
          ApproximateNumberOfMessages: String(q.messages.filter((m) => m.visibleAt <= now).length),
          ApproximateNumberOfMessagesNotVisible: String(q.messages.filter((m) => m.visibleAt > now).length),
          VisibilityTimeout: String(q.visibilityTimeout),
        },
      };
    },
  };

  const readBody = (req: IncomingMessage): Promise<string> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });

  const reply = (res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID(), ...extra });
    res.end(text);
  };

  const server = createServer((req, res) => {
    void (async () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const text = await readBody(req);
      try {
        if (req.method !== 'POST' || !target.startsWith('AmazonSQS.')) {
          throw new SqsError('com.amazonaws.sqs#InvalidAction', `unsupported request ${req.method} ${target}`);
        }
        const op = target.slice('AmazonSQS.'.length);
        const handler = ops[op];
        if (!handler) throw new SqsError('com.amazonaws.sqs#InvalidAction', `The action ${op} is not valid for this endpoint.`);
        const input = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
        calls.push({ op, input });
        reply(res, 200, await handler(input));
      } catch (e) {
        const err = e instanceof SqsError ? e : new SqsError('com.amazonaws.sqs#InternalError', String(e), 500);
        const short = err.code.split('#').pop() ?? err.code;
        reply(res, err.status, { __type: err.code, message: err.message }, { 'x-amzn-query-error': `AWS.SimpleQueueService.${short};Sender` });
      }
    })();
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    endpoint: base,
    region: 'us-east-1',
    credentials: { accessKeyId: 'fixture', secretAccessKey: 'fixture' },
    createQueue,
    send: (url, body) => send(queueFor({ QueueUrl: url }), body).id,
    depth: (url) => {
      const q = queueFor({ QueueUrl: url });
      const now = Date.now();
      return { visible: q.messages.filter((m) => m.visibleAt <= now).length, inFlight: q.messages.filter((m) => m.visibleAt > now).length };
    },
    calls,
    close: async () => {
      closed = true;
      for (const q of queues.values()) for (const w of [...q.waiters]) w();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
