// Dialback keys: XEP-0185 (Dialback Key Generation and Validation) §3, as XEP-0220 §2.1.1 and
// §2.3 use them. A key is HMAC-SHA256 keyed with the SHA-256 of a secret only this server
// knows, over "<receiving domain> <originating domain> <stream id>", in lower-case hex: the
// server that made it can check it later from the same three values without remembering it.

import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** XEP-0185 §3: the key our server sends as `originating` to `receiving` on stream `streamId`. */
export function dialbackKey(
  secret: string,
  receiving: string,
  originating: string,
  streamId: string,
): string {
  const hashedSecret = createHash('sha256').update(secret, 'utf8').digest('hex');
  return createHmac('sha256', hashedSecret)
    .update(`${receiving} ${originating} ${streamId}`, 'utf8')
    .digest('hex');
}

/** Whether `presented` is the key we would make for these values; in constant time. */
export function isValidDialbackKey(
  secret: string,
  presented: string,
  receiving: string,
  originating: string,
  streamId: string,
): boolean {
  const expected = Buffer.from(dialbackKey(secret, receiving, originating, streamId), 'utf8');
  const given = Buffer.from(presented.trim(), 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The file in data_dir that keeps a generated secret across restarts. */
export const SECRET_FILE = 's2s-dialback-secret';

/**
 * The configured secret, else the one generated earlier, else a new one, written so that keys
 * handed out before a restart still verify after it (XEP-0185 §4: the secret must stay put
 * while peers may still ask about keys made with it).
 */
export async function loadDialbackSecret(configured: string, dataDir: string): Promise<string> {
  if (configured !== '') return configured;
  const file = join(dataDir, SECRET_FILE);
  try {
    const stored = (await readFile(file, 'utf8')).trim();
    if (stored !== '') return stored;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secret = randomBytes(32).toString('hex');
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
