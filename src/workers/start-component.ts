// The workers as a `stowage start` component: runs startWorkers on the API's deps and, when the object store is the
// embedded one, points its bucket notifications at POST /v1/events/s3 (a webhook the store queues on disk and retries
// until it is answered), so uploads complete from storage events even when the client never confirms.
import { createHmac } from 'node:crypto';
import { PutBucketNotificationConfigurationCommand } from '@aws-sdk/client-s3';
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import type { Deps } from '../services/deps.ts';
import { createS3Client } from '../storage/s3-adapter.ts';
import { startWorkers, type Workers } from './runner.ts';

export interface WorkersStartContext {
  config: Config;
  log: Logger;
  embeddedS3: boolean;
  secrets: { jwtSecret: string };
  api?: { deps: Deps; url: string };
}

/** EVENTS_SECRET, or one derived from the data directory's generated JWT secret (stable across restarts). */
export function eventsSecretFor(config: Config, jwtSecret: string): string {
  return config.events?.secret ?? createHmac('sha256', jwtSecret).update('stowage-events-webhook').digest('hex');
}

export function eventsWebhookUrl(apiUrl: string, secret: string): string {
  const u = new URL('/v1/events/s3', apiUrl.replace('://0.0.0.0', '://127.0.0.1').replace('://[::]', '://127.0.0.1'));
  u.searchParams.set('secret', secret);
  return u.toString();
}

export function workersStartComponent(ctx: WorkersStartContext) {
  let workers: Workers | undefined;
  return {
    name: 'workers',
    async start() {
      const api = ctx.api;
      if (!api) throw new Error('workers need the API component started first');
      const secret = eventsSecretFor(ctx.config, ctx.secrets.jwtSecret);
      ctx.config.events = { ...ctx.config.events, secret };
      if (ctx.embeddedS3) {
        const s3 = createS3Client({
          endpoint: ctx.config.s3.endpoint, region: ctx.config.s3.region, accessKeyId: ctx.config.s3.accessKeyId,
          secretAccessKey: ctx.config.s3.secretAccessKey, forcePathStyle: true,
        });
        try {
          await s3.send(new PutBucketNotificationConfigurationCommand({
            Bucket: ctx.config.s3.bucket,
            NotificationConfiguration: {
              TopicConfigurations: [{
                Id: 'stowage-events',
                TopicArn: eventsWebhookUrl(api.url, secret),
                Events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'],
                Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'workspaces/' }] } },
              }],
            },
          }));
          ctx.log.info('embedded object store notifications → POST /v1/events/s3');
        } finally {
          s3.destroy();
        }
      }
      workers = startWorkers(api.deps);
    },
    async stop() {
      await workers?.stop();
      workers = undefined;
    },
  };
}
