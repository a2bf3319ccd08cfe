// SDK upload throughput: 1 GiB (256 MiB with --quick) from a file through the Stowage SDK in Node (create, presigned
// multipart parts in parallel, complete + verification) against `aws s3 cp` (Debian awscli, default settings) of the
// same file to the same endpoint and bucket, in the same run. Both run as their own processes; each is measured twice,
// alternately, and the better run counts. Target: ≥ 1.0× awscli's throughput.
// Runnable alone: `node --import tsx bench/sdk.ts [--quick]`.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { BUCKET, startStack } from './lib/stowage.ts';
import { BenchSkip, result, type BenchOptions, type BenchResult } from './lib/types.ts';

const MiB = 1024 * 1024;
const AWS = '/usr/bin/aws';
// The same credentials bench/lib/stowage.ts gives the embedded store.
const ACCESS_KEY_ID = 'BENCHACCESSKEY000001';
const SECRET_ACCESS_KEY = 'bench-secret-access-key-0000000000000001';

function runProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
    p.on('error', reject);
    p.on('exit', (code) => resolveRun({ code: code ?? -1, stdout, stderr }));
  });
}

async function writeFile(path: string, size: number): Promise<void> {
  const block = randomBytes(MiB);
  const fh = await open(path, 'w');
  try {
    for (let off = 0, i = 0; off < size; off += MiB, i++) {
      const chunk = Buffer.from(block.subarray(0, Math.min(MiB, size - off)));
      chunk.writeUInt32BE(i, 0);
      await fh.write(chunk);
    }
  } finally {
    await fh.close();
  }
}

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const log = opts.log ?? ((m: string) => console.error(m));
  if (!existsSync(AWS)) throw new BenchSkip(`${AWS} (Debian awscli) is not installed`);
  const size = opts.quick ? 256 * MiB : 1024 * MiB;
  const label = opts.quick ? '256 MiB' : '1 GiB';
  const dir = await mkdtemp(join(tmpdir(), 'stowage-bench-sdk-'));
  const stack = await startStack({ database: 'stowage_bench_sdk', log });
  try {
    const file = join(dir, 'upload.bin');
    await writeFile(file, size);
    const token = await stack.token('bench-sdk');
    const awsEnv: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: dir,
      AWS_ACCESS_KEY_ID: ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CONFIG_FILE: join(dir, 'aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'aws-credentials'),
      AWS_PAGER: '',
    };

    const sdkRun = async (): Promise<number> => {
      const r = await runProcess(
        process.execPath,
        ['--import', 'tsx', resolve('bench', 'lib', 'sdk-child.ts'), stack.apiUrl, token, file, process.env.BENCH_SDK_CONCURRENCY ?? ''],
        { PATH: process.env.PATH, HOME: process.env.HOME },
      );
      if (r.code !== 0) throw new Error(`SDK upload failed (exit ${r.code}): ${r.stderr}`);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { seconds: number; status: string; id: string; size: number };
      if (out.status !== 'available' || out.size !== size) throw new Error(`SDK upload ended ${out.status}, ${out.size} bytes`);
      // Free the store's disk for the next run.
      await fetch(`${stack.apiUrl}/v1/files/${out.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
      return out.seconds;
    };
    const awsRun = async (n: number): Promise<number> => {
      const key = `bench/awscli-${n}.bin`;
      const start = performance.now();
      const r = await runProcess(AWS, ['--endpoint-url', stack.s3Endpoint, 's3', 'cp', '--only-show-errors', file, `s3://${BUCKET}/${key}`], awsEnv);
      const seconds = (performance.now() - start) / 1000;
      if (r.code !== 0) throw new Error(`aws s3 cp failed (exit ${r.code}): ${r.stderr}`);
      await runProcess(AWS, ['--endpoint-url', stack.s3Endpoint, 's3', 'rm', '--only-show-errors', `s3://${BUCKET}/${key}`], awsEnv);
      return seconds;
    };

    const sdkTimes: number[] = [];
    const awsTimes: number[] = [];
    for (let round = 1; round <= 2; round++) {
      log(`round ${round}: aws s3 cp ${label}`);
      awsTimes.push(await awsRun(round));
      log(`  aws s3 cp: ${awsTimes[awsTimes.length - 1]!.toFixed(2)} s`);
      log(`round ${round}: Stowage SDK ${label}`);
      sdkTimes.push(await sdkRun());
      log(`  SDK: ${sdkTimes[sdkTimes.length - 1]!.toFixed(2)} s`);
    }
    const sdk = size / MiB / Math.min(...sdkTimes);
    const aws = size / MiB / Math.min(...awsTimes);
    return [
      result({
        figure: `SDK upload of ${label} from a file (Node)`,
        stowage: sdk,
        baseline: aws,
        unit: 'MiB/s',
        target: 1.0,
        baselineName: 'aws s3 cp (Debian awscli 2, default multipart settings) to the same endpoint',
        note:
          `best of 2 each; SDK: 16 MiB parts, 4 in parallel, including create, lazy part signing, complete and ` +
          `server-side verification; times SDK ${sdkTimes.map((t) => t.toFixed(2)).join('/')} s, awscli ` +
          `${awsTimes.map((t) => t.toFixed(2)).join('/')} s; embedded object store`,
      }),
    ];
  } finally {
    await stack.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run({ quick: process.argv.includes('--quick') })
    .then((rows) => console.log(JSON.stringify(rows, null, 2)))
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
