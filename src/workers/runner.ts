// The worker runner: repeats the cleanup pass (services/cleanup.ts) every interval, plus the SQS consumer when a
// queue is configured. Any number of runners may run at once (in `stowage start`, in `stowage worker` processes):
// every duty claims its work with FOR UPDATE SKIP LOCKED or is idempotent.
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Deps } from '../services/deps.ts';
import { runCleanupOnce, type CleanupOptions, type CleanupResult } from '../services/cleanup.ts';
import { handleStorageEvents } from '../services/handle-storage-event.ts';
import { startSqsConsumer } from './sqs-consumer.ts';

export interface WorkerOptions extends CleanupOptions {
  /** Pause between passes (default config WORKER_INTERVAL_SECONDS, 30 s). */
  intervalMs?: number;
  /** The multipart sweep runs every n-th pass (it lists the bucket's uploads; default 10). */
  multipartEvery?: number;
  /** SQS queue of S3 notifications (default config SQS_QUEUE_URL); null disables the consumer. */
  sqs?: { queueUrl: string; client?: SQSClient; waitTimeSeconds?: number } | null;
  /** Called after every pass (tests, metrics). */
  onPass?: (r: CleanupResult) => void;
}

export interface Workers {
  stop(): Promise<void>;
  /** Runs a pass now (waits for a running one first). */
  runOnce(): Promise<CleanupResult>;
}

export function startWorkers(deps: Deps, opts: WorkerOptions = {}): Workers {
  const intervalMs = opts.intervalMs ?? (deps.config.workers?.intervalSeconds ?? 30) * 1000;
  const multipartEvery = Math.max(1, opts.multipartEvery ?? 10);
  let stopped = false;
  let passes = 0;
  let current: Promise<CleanupResult> | null = null;
  let timer: NodeJS.Timeout | null = null;

  const pass = (): Promise<CleanupResult> => {
    const run = async () => {
      const multipart = opts.multipart !== false && passes % multipartEvery === 0;
      passes += 1;
      const r = await runCleanupOnce(deps, { ...opts, multipart });
      opts.onPass?.(r);
      return r;
    };
    const p = (current ?? Promise.resolve()).catch(() => undefined).then(run);
    current = p;
    void p.finally(() => {
      if (current === p) current = null;
    });
    return p;
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      pass().catch((err) => deps.log.error({ err }, 'worker pass failed')).finally(schedule);
    }, intervalMs);
  };
  // First pass right away.
  pass().catch((err) => deps.log.error({ err }, 'worker pass failed')).finally(schedule);

  const queueUrl = opts.sqs === null ? undefined : (opts.sqs?.queueUrl ?? deps.config.events?.sqsQueueUrl);
  let ownClient: SQSClient | undefined;
  const consumer = queueUrl
    ? startSqsConsumer({
        client: opts.sqs?.client ?? (ownClient = new SQSClient({
          region: deps.config.s3.region,
          ...(deps.config.events?.sqsEndpoint ? { endpoint: deps.config.events.sqsEndpoint } : {}),
        })),
        queueUrl,
        log: deps.log,
        waitTimeSeconds: opts.sqs?.waitTimeSeconds,
        handle: async (events) => {
          await handleStorageEvents(deps, events);
        },
      })
    : null;
  deps.log.info({ intervalMs, sqs: queueUrl ?? null }, 'workers started');

  return {
    runOnce: pass,
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await consumer?.stop();
      ownClient?.destroy();
      await current?.catch(() => undefined);
    },
  };
}
