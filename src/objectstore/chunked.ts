import { createHash, type Hash } from 'node:crypto';
import { s3err } from './errors.ts';
import { chunkStringToSign, hmacHex, sha256hex, sigEqual, trailerStringToSign, type AuthInfo } from './sigv4.ts';

export interface ChunkedContext {
  /** verify chunk signatures (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]) with this auth */
  auth?: AuthInfo;
  signedTrailer: boolean;
  /** filled with the trailing headers (lower-case names) */
  trailers: Map<string, string>;
}

const MAX_LINE = 16 * 1024;

/**
 * Decodes an aws-chunked body (`hex;chunk-signature=…\r\n data \r\n … 0\r\n trailers \r\n`), yielding only the payload
 * bytes (zero-copy sub-arrays), verifying chunk signatures when asked, and collecting trailing headers.
 */
export async function* decodeAwsChunked(src: AsyncIterable<Buffer>, ctx: ChunkedContext): AsyncGenerator<Buffer> {
  const HEADER = 0, DATA = 1, DATA_END = 2, TRAILER = 3, DONE = 4;
  let state = HEADER;
  let remaining = 0;
  let carry: Buffer | null = null;
  let prevSig = ctx.auth?.signature ?? '';
  let chunkSig = '';
  let chunkHash: Hash | null = null;
  const verifyChunk = (dataHashHex: string) => {
    if (!ctx.auth) return;
    const expected = hmacHex(ctx.auth.key, chunkStringToSign(ctx.auth, prevSig, dataHashHex));
    if (!sigEqual(expected, chunkSig)) throw s3err('SignatureDoesNotMatch', 'The chunk signature does not match.');
    prevSig = chunkSig;
  };
  const trailerLines: string[] = [];
  for await (const buf of src) {
    let pos = 0;
    while (pos < buf.length) {
      if (state === DATA) {
        const n = Math.min(remaining, buf.length - pos);
        const slice = buf.subarray(pos, pos + n);
        chunkHash?.update(slice);
        remaining -= n;
        pos += n;
        if (remaining === 0) {
          if (chunkHash) verifyChunk(chunkHash.digest('hex'));
          state = DATA_END;
        }
        yield slice;
        continue;
      }
      const nl = buf.indexOf(10, pos);
      if (nl < 0) {
        const rest = buf.subarray(pos);
        carry = carry ? Buffer.concat([carry, rest]) : Buffer.from(rest);
        if (carry.length > MAX_LINE) throw s3err('IncompleteBody', 'Malformed aws-chunked encoding');
        pos = buf.length;
        break;
      }
      let lineBuf = buf.subarray(pos, nl + 1);
      if (carry) {
        lineBuf = Buffer.concat([carry, lineBuf]);
        carry = null;
      }
      pos = nl + 1;
      if (lineBuf.length < 2 || lineBuf[lineBuf.length - 2] !== 13) throw s3err('IncompleteBody', 'Malformed aws-chunked encoding');
      const line = lineBuf.toString('latin1', 0, lineBuf.length - 2);
      if (state === DATA_END) {
        if (line !== '') throw s3err('IncompleteBody', 'Malformed aws-chunked encoding');
        state = HEADER;
      } else if (state === HEADER) {
        const semi = line.indexOf(';');
        const hex = semi < 0 ? line : line.slice(0, semi);
        if (!/^[0-9a-fA-F]{1,16}$/.test(hex)) throw s3err('IncompleteBody', 'Malformed aws-chunked encoding');
        const size = parseInt(hex, 16);
        if (ctx.auth) {
          const m = /;chunk-signature=([0-9a-f]{64})$/.exec(line);
          if (!m) throw s3err('SignatureDoesNotMatch', 'Missing chunk signature');
          chunkSig = m[1];
        }
        if (size === 0) {
          if (ctx.auth) verifyChunk(sha256hex(''));
          state = TRAILER;
        } else {
          remaining = size;
          chunkHash = ctx.auth ? createHash('sha256') : null;
          state = DATA;
        }
      } else if (state === TRAILER) {
        if (line === '') {
          state = DONE;
        } else {
          const i = line.indexOf(':');
          if (i <= 0) throw s3err('IncompleteBody', 'Malformed trailing header');
          const name = line.slice(0, i).trim().toLowerCase();
          const value = line.slice(i + 1).trim();
          if (name === 'x-amz-trailer-signature') {
            if (ctx.auth && ctx.signedTrailer) {
              const hash = sha256hex(trailerLines.map((l) => l + '\n').join(''));
              const expected = hmacHex(ctx.auth.key, trailerStringToSign(ctx.auth, prevSig, hash));
              if (!sigEqual(expected, value)) throw s3err('SignatureDoesNotMatch', 'The trailer signature does not match.');
            }
          } else {
            trailerLines.push(`${name}:${value}`);
            ctx.trailers.set(name, value);
          }
        }
      } else if (line !== '') {
        throw s3err('IncompleteBody', 'Unexpected data after the final chunk');
      }
    }
  }
  if (carry && state === TRAILER) {
    // tolerate a missing final CRLF after the trailers
    const line = carry.toString('latin1').trim();
    if (line) {
      const i = line.indexOf(':');
      if (i > 0) ctx.trailers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
    }
    state = DONE;
  }
  if (state !== DONE && state !== TRAILER) throw s3err('IncompleteBody');
}
