// Child process for bench/sdk.ts: uploads one file through the Stowage SDK (its own process, like `aws s3 cp`) and
// prints {"seconds": …, "status": …} on stdout.
//   node --import tsx bench/lib/sdk-child.ts <apiUrl> <token> <path> [concurrency]
import { createClient } from '../../src/client/index.ts';

const [apiUrl, token, path, concurrency] = process.argv.slice(2);
if (!apiUrl || !token || !path) {
  console.error('usage: sdk-child.ts <apiUrl> <token> <path> [concurrency]');
  process.exit(2);
}
const client = createClient({ baseUrl: apiUrl, token });
const start = performance.now();
const file = await client.upload(path, { resume: false, ...(concurrency ? { concurrency: Number(concurrency) } : {}) }).done;
const seconds = (performance.now() - start) / 1000;
process.stdout.write(JSON.stringify({ seconds, status: file.status, id: file.id, size: file.size }) + '\n');
