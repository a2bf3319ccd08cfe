import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import type { Db } from '../db/pool.ts';
import type { StoragePort } from '../storage/port.ts';

/** What every service needs. Workers and HTTP handlers build one and call the same services. */
export interface Deps {
  config: Config;
  db: Db;
  storage: StoragePort;
  log: Logger;
  now: () => Date;
}
