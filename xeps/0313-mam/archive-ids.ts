// Archive ids as clients see them: XEP-0313 §2 ("a server-assigned UID that MUST be
// unpredictable and unique within the archive") and XEP-0359 §6 (an observer "MUST NOT be able to
// infer any information from it, e.g. the size of the message archive").
//
// Inside the store a message is keyed by (archive, seq), seq being its archive time in
// microseconds, strictly increasing per archive: the order a page is read in. Showing seq would
// reveal the archive's timing and let anyone guess neighbouring ids, so the id a client sees is
// that key encrypted with a per-server key (one AES block: archive, seq, and four zero bytes
// that reject made-up ids). Encrypting rather than storing a random id keeps no second index
// and turns an id back into its key with no lookup; ids stay unique and are never reused
// because keys are (see store.ts).

import { createCipheriv, createDecipheriv } from 'node:crypto';

/** A message's key in the store. */
export interface ArchiveKey {
  archive: number;
  seq: number;
}

const BLOCK = 16;
const TWO_32 = 2 ** 32;

export class ArchiveIds {
  private readonly encipher;
  private readonly decipher;
  private readonly block = Buffer.alloc(BLOCK);

  /** `secret`: 16 bytes, kept with the archive so that ids survive restarts. */
  constructor(secret: Buffer) {
    if (secret.length !== BLOCK) throw new Error('an archive id secret is 16 bytes');
    // ECB over exactly one block, no padding: a keyed permutation of 128-bit values. The
    // cipher objects are reused; each update() turns one block into one block.
    this.encipher = createCipheriv('aes-128-ecb', secret, null).setAutoPadding(false);
    this.decipher = createDecipheriv('aes-128-ecb', secret, null).setAutoPadding(false);
  }

  encode(archive: number, seq: number): string {
    const b = this.block;
    b.writeUInt32BE(archive, 0);
    b.writeUInt32BE(Math.floor(seq / TWO_32), 4);
    b.writeUInt32BE(seq % TWO_32, 8);
    b.writeUInt32BE(0, 12);
    return this.encipher.update(b).toString('base64url');
  }

  /** The key an id stands for, or undefined for anything this server did not hand out. */
  decode(id: string): ArchiveKey | undefined {
    if (id.length !== 22) return undefined;
    const raw = Buffer.from(id, 'base64url');
    // base64url decoding skips stray characters; only the canonical form is ours.
    if (raw.length !== BLOCK || raw.toString('base64url') !== id) return undefined;
    const b = this.decipher.update(raw);
    if (b.readUInt32BE(12) !== 0) return undefined;
    return { archive: b.readUInt32BE(0), seq: b.readUInt32BE(4) * TWO_32 + b.readUInt32BE(8) };
  }
}
