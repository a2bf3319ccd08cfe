import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
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
const HEADER = 0;
const DATA = 1;
const DATA_END = 2;
const TRAILER = 3;
const DONE = 4;

/**
 * Decodes an aws-chunked body (`hex;chunk-signature=…\r\n data \r\n … 0\r\n trailers \r\n`), passing on only the
 * payload bytes (zero-copy sub-arrays), verifying chunk signatures when asked, and collecting trailing headers.
 * A Transform (not an async generator): no per-chunk promise round trips.
 */
export class AwsChunkedDecoder extends Transform {
  private state = HEADER;
  private remaining = 0;
  private carry: Buffer | null = null;
  private prevSig: string;
  private chunkSig = '';
  private chunkHash: Hash | null = null;
  private trailerLines: string[] = [];
  private trailerSigSeen = false;

  constructor(private readonly ctx: ChunkedContext) {
    super();
    this.prevSig = ctx.auth?.signature ?? '';
  }

  private verifyChunk(dataHashHex: string): void {
    const auth = this.ctx.auth;
    if (!auth) return;
    const expected = hmacHex(auth.key, chunkStringToSign(auth, this.prevSig, dataHashHex));
    if (!sigEqual(expected, this.chunkSig)) throw s3err('SignatureDoesNotMatch', 'The chunk signature does not match.');
    this.prevSig = this.chunkSig;
  }

  /** True when the trailer must carry exactly one x-amz-trailer-signature, last (STREAMING-…-PAYLOAD-TRAILER). */
  private get trailerSigned(): boolean {
    return this.ctx.auth !== undefined && this.ctx.signedTrailer;
  }

  private trailerLine(line: string): void {
    const i = line.indexOf(':');
    if (i <= 0) throw s3err('IncompleteBody', 'Malformed trailing header');
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    // nothing may follow the trailer signature: it would be a header nobody signed
    if (this.trailerSigSeen) throw s3err('SignatureDoesNotMatch', 'Trailing headers after x-amz-trailer-signature are not signed.');
    if (name === 'x-amz-trailer-signature') {
      const auth = this.ctx.auth;
      if (auth && this.ctx.signedTrailer) {
        this.trailerSigSeen = true;
        const hash = sha256hex(this.trailerLines.map((l) => l + '\n').join(''));
        const expected = hmacHex(auth.key, trailerStringToSign(auth, this.prevSig, hash));
        if (!sigEqual(expected, value)) throw s3err('SignatureDoesNotMatch', 'The trailer signature does not match.');
      }
      return;
    }
    this.trailerLines.push(`${name}:${value}`);
    this.ctx.trailers.set(name, value);
  }

  private endTrailers(): void {
    if (this.trailerSigned && !this.trailerSigSeen) throw s3err('SignatureDoesNotMatch', 'The trailer signature (x-amz-trailer-signature) is missing.');
    this.state = DONE;
  }

  override _transform(buf: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.consume(buf);
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      if (this.state === TRAILER) {
        // tolerate a missing final CRLF after the trailers
        const line = this.carry ? this.carry.toString('latin1').trim() : '';
        this.carry = null;
        if (line) this.trailerLine(line);
        this.endTrailers();
      }
      if (this.state !== DONE) throw s3err('IncompleteBody');
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  private consume(buf: Buffer): void {
    const ctx = this.ctx;
    let pos = 0;
    while (pos < buf.length) {
      if (this.state === DATA) {
        const n = Math.min(this.remaining, buf.length - pos);
        const slice = buf.subarray(pos, pos + n);
        this.chunkHash?.update(slice);
        this.remaining -= n;
        pos += n;
        if (this.remaining === 0) {
          if (this.chunkHash) this.verifyChunk(this.chunkHash.digest('hex'));
          this.state = DATA_END;
        }
        this.push(slice);
        continue;
      }
      const nl = buf.indexOf(10, pos);
      if (nl < 0) {
        const rest = buf.subarray(pos);
        this.carry = this.carry ? Buffer.concat([this.carry, rest]) : Buffer.from(rest);
        if (this.carry.length > MAX_LINE) throw s3err('IncompleteBody', 'Malformed aws-chunked encoding');
        return;
      }
      let lineBuf = buf.subarray(pos, nl + 1);
      if (this.carry) {
        lineBuf = Buffer.concat([this.carry, lineBuf]);
        this.carry = null;
      }
      pos = nl + 1;
      if (lineBuf.length < 2 || lineBuf[lineBuf.length - 2] !== 13) throw s3err('IncompleteBody', 'Malformed aws-chunked encoding');
      const line = lineBuf.toString('latin1', 0, lineBuf.length - 2);
      if (this.state === DATA_END) {
        if (line !== '') throw s3err('IncompleteBody', 'Malformed aws-chunked encoding');
        this.state = HEADER;
      } else if (this.state === HEADER) {
        const semi = line.indexOf(';');
        const hex = semi < 0 ? line : line.slice(0, semi);
        if (!/^[0-9a-fA-F]{1,16}$/.test(hex)) throw s3err('IncompleteBody', 'Malformed aws-chunked encoding');
        const size = parseInt(hex, 16);
        if (ctx.auth) {
          const m = /;chunk-signature=([0-9a-f]{64})$/.exec(line);
          if (!m) throw s3err('SignatureDoesNotMatch', 'Missing chunk signature');
          this.chunkSig = m[1];
        }
        if (size === 0) {
          if (ctx.auth) this.verifyChunk(sha256hex(''));
          this.state = TRAILER;
        } else {
          this.remaining = size;
          this.chunkHash = ctx.auth ? createHash('sha256') : null;
          this.state = DATA;
        }
      } else if (this.state === TRAILER) {
        if (line === '') this.endTrailers();
        else this.trailerLine(line);
      } else if (line !== '') {
        throw s3err('IncompleteBody', 'Unexpected data after the final chunk');
      }
    }
  }
}
