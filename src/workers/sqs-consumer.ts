// SQS consumer: receives S3 event notifications from an SQS queue (directly from S3, or through an SNS topic) and hands
// the parsed records to the same handler the HTTP webhook uses (services/handle-storage-event.ts).
//
// - Long polling (WaitTimeSeconds, default 20) with up to 10 messages per receive.
// - A message is deleted only after the handler has finished with it. While the handler runs, the message's visibility
//   is extended (ChangeMessageVisibility) every visibilityTimeout/3 seconds so slow work is not handed to a second
//   consumer meanwhile.
// - s3:TestEvent and SNS subscription confirmations are acknowledged (deleted) without work.
// - Malformed messages (nothing in them is an S3 event) are logged and deleted: retrying cannot fix them.
// - When the handler throws, the message is left in the queue and made visible again after a backoff; after
//   maxReceiveCount receives it is logged and deleted so a poison message is not retried forever. Losing an event is
//   safe: the expiry sweeper reconciles every pending upload with storage before expiring it.
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { isMalformed, parseStorageNotification, type ParsedNotification, type StorageEvent } from '../domain/storage-events.ts';

export interface ConsumerLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface SqsConsumerOptions {
  client: SQSClient;
  queueUrl: string;
  /** Processes the records of one message. Throwing leaves the message for a later retry. */
  handle: (events: StorageEvent[]) => Promise<void>;
  log: ConsumerLog;
  waitTimeSeconds?: number;
  maxMessages?: number;
  /** Visibility timeout requested on receive and renewed while a message is being processed (seconds). */
  visibilityTimeout?: number;
  /** After this many receives a message whose handling keeps failing is logged and deleted. */
  maxReceiveCount?: number;
  /** Base delay before a failed message becomes visible again (seconds; multiplied by the receive count). */
  retryBackoffSeconds?: number;
}

export interface PollStats {
  received: number;
  processed: number;
  tests: number;
  malformed: number;
  failed: number;
  dropped: number;
  events: number;
}

export type MessageOutcome = 'processed' | 'test' | 'malformed' | 'failed' | 'dropped';

function defaults(o: SqsConsumerOptions) {
  return {
    waitTimeSeconds: o.waitTimeSeconds ?? 20,
    maxMessages: o.maxMessages ?? 10,
    visibilityTimeout: o.visibilityTimeout ?? 60,
    maxReceiveCount: o.maxReceiveCount ?? 10,
    retryBackoffSeconds: o.retryBackoffSeconds ?? 5,
  };
}

/** Receives once (long poll) and processes every message received. */
export async function pollOnce(opts: SqsConsumerOptions, signal?: AbortSignal): Promise<PollStats> {
  const d = defaults(opts);
  const stats: PollStats = { received: 0, processed: 0, tests: 0, malformed: 0, failed: 0, dropped: 0, events: 0 };
  const out = await opts.client.send(
    new ReceiveMessageCommand({
      QueueUrl: opts.queueUrl,
      MaxNumberOfMessages: d.maxMessages,
      WaitTimeSeconds: d.waitTimeSeconds,
      VisibilityTimeout: d.visibilityTimeout,
      MessageSystemAttributeNames: ['ApproximateReceiveCount'],
    }),
    { abortSignal: signal },
  );
  const messages = out.Messages ?? [];
  stats.received = messages.length;
  // Messages are independent: process them concurrently, each with its own visibility heartbeat.
  const outcomes = await Promise.all(messages.map((m) => processMessage(opts, m)));
  for (const { outcome, events } of outcomes) {
    stats[outcome === 'test' ? 'tests' : outcome] += 1;
    stats.events += events;
  }
  return stats;
}

/** Handles one received message; `events` counts the records handed to the handler when it succeeded. */
export async function processMessage(opts: SqsConsumerOptions, m: Message): Promise<{ outcome: MessageOutcome; events: number }> {
  const parsed = parseStorageNotification(m.Body ?? '');
  const outcome = await settle(opts, m, parsed);
  return { outcome, events: outcome === 'processed' ? parsed.events.length : 0 };
}

async function settle(opts: SqsConsumerOptions, m: Message, parsed: ParsedNotification): Promise<MessageOutcome> {
  const d = defaults(opts);
  const receipt = m.ReceiptHandle;
  const id = m.MessageId;
  if (!receipt) return 'failed';

  if (isMalformed(parsed)) {
    opts.log.warn({ messageId: id, problems: parsed.problems, body: (m.Body ?? '').slice(0, 500) }, 'sqs: malformed message dropped');
    await deleteQuietly(opts, receipt, id);
    return 'malformed';
  }
  if (parsed.problems.length > 0) {
    opts.log.warn({ messageId: id, problems: parsed.problems }, 'sqs: some records in a message were not understood');
  }
  if (parsed.events.length === 0) {
    if (parsed.subscriptionConfirmations.length > 0) {
      opts.log.warn({ messageId: id, urls: parsed.subscriptionConfirmations }, 'sqs: SNS subscription confirmation received (confirm it out of band)');
    }
    await deleteQuietly(opts, receipt, id);
    return 'test';
  }

  const heartbeat = startHeartbeat(opts, receipt, id, d.visibilityTimeout);
  try {
    await opts.handle(parsed.events);
  } catch (err) {
    heartbeat.stop();
    const count = Number(m.Attributes?.ApproximateReceiveCount ?? '1');
    if (count >= d.maxReceiveCount) {
      opts.log.error({ messageId: id, err: String(err), receiveCount: count, body: (m.Body ?? '').slice(0, 500) },
        'sqs: message failed too many times; dropped (the expiry sweeper reconciles what it described)');
      await deleteQuietly(opts, receipt, id);
      return 'dropped';
    }
    opts.log.warn({ messageId: id, err: String(err), receiveCount: count }, 'sqs: handling failed; will retry');
    const backoff = Math.min(d.retryBackoffSeconds * count, 900);
    await opts.client
      .send(new ChangeMessageVisibilityCommand({ QueueUrl: opts.queueUrl, ReceiptHandle: receipt, VisibilityTimeout: backoff }))
      .catch(() => undefined); // the original visibility timeout applies instead
    return 'failed';
  }
  heartbeat.stop();
  await heartbeat.settled();
  await deleteQuietly(opts, receipt, id);
  return 'processed';
}

function startHeartbeat(opts: SqsConsumerOptions, receipt: string, id: string | undefined, visibility: number) {
  let inflight: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    inflight = opts.client
      .send(new ChangeMessageVisibilityCommand({ QueueUrl: opts.queueUrl, ReceiptHandle: receipt, VisibilityTimeout: visibility }))
      .catch((err: unknown) => opts.log.warn({ messageId: id, err: String(err) }, 'sqs: could not extend visibility'));
  }, Math.max(200, (visibility * 1000) / 3));
  timer.unref();
  return { stop: () => clearInterval(timer), settled: () => inflight };
}

async function deleteQuietly(opts: SqsConsumerOptions, receipt: string, id: string | undefined): Promise<void> {
  try {
    await opts.client.send(new DeleteMessageCommand({ QueueUrl: opts.queueUrl, ReceiptHandle: receipt }));
  } catch (err) {
    // The message will come back; handling is idempotent, so processing it again is harmless.
    opts.log.warn({ messageId: id, err: String(err) }, 'sqs: delete failed; the message will be seen again');
  }
}

/** Polls until stop() is called. Errors from SQS itself are logged and retried with a capped backoff. */
export function startSqsConsumer(opts: SqsConsumerOptions): { stop(): Promise<void>; done: Promise<void> } {
  const ac = new AbortController();
  const done = (async () => {
    let errors = 0;
    while (!ac.signal.aborted) {
      try {
        await pollOnce(opts, ac.signal);
        errors = 0;
      } catch (err) {
        if (ac.signal.aborted) break;
        errors += 1;
        opts.log.error({ err: String(err), consecutiveErrors: errors }, 'sqs: receive failed');
        await sleep(Math.min(30_000, 500 * 2 ** Math.min(errors, 6)), ac.signal);
      }
    }
  })();
  return {
    done,
    stop: async () => {
      ac.abort();
      await done;
    },
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}
