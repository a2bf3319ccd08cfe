export { startObjectStore, type ObjectStore, type ObjectStoreOptions, type ObjectStoreLogger, type S3EventRecord } from './server.ts';
export { crc32c, crc32, checksumOf, type ChecksumAlgorithm } from './checksums.ts';
