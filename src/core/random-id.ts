// Random identifiers that must be unguessable (stream ids, session ids, XEP-0198 SM-IDs,
// generated resources): base64url of bytes from the CSPRNG.
//
// A login asks for several; each randomBytes call is a native call that also allocates a
// Buffer, so the bytes are drawn from a pool refilled in one call. Every byte is handed out
// once; the pool is never exposed.

import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafeSlow(POOL_BYTES);
/** Where the unused bytes of the pool start; POOL_BYTES when it needs refilling. */
let offset = POOL_BYTES;

/** `bytes` fresh random bytes as base64url (16 characters for 12 bytes). */
export function randomId(bytes: number): string {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > POOL_BYTES)
    throw new RangeError(`randomId takes 1 to ${POOL_BYTES} bytes, not ${bytes}`);
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = pool.toString('base64url', offset, offset + bytes);
  offset += bytes;
  return id;
}
