// Signer for the local edge: CloudFront-format URLs pointed at the edge's base URL, signed with the edge key pair.
// The disposition and content type travel in the signed query string (the edge honours them; the signature covers
// them, so they cannot be changed by the holder of the URL).
import { CloudFrontSigner } from './cloudfront.ts';

export interface EdgeSignerOptions {
  /** Public base URL of the edge, e.g. http://127.0.0.1:8788 (what browsers use; the edge checks it). */
  baseUrl: string;
  keyPairId: string;
  privateKey: string | Buffer;
  windowSeconds?: number;
}

export function createEdgeSigner(opts: EdgeSignerOptions): CloudFrontSigner {
  return new CloudFrontSigner({ ...opts, responseParams: true, strategy: 'edge' });
}
