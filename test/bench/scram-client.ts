// SCRAM-SHA-1, client side, for the load generator: RFC 5802 §3 (the algorithm), §5 (the
// exchange), §7 (syntax). Without channel binding (gs2 flag "n"): every server under test
// offers plain SCRAM-SHA-1 over STARTTLS, and the binding would only add cost to the client.
//
// PBKDF2 is the client's cost in SCRAM, and a benchmark of the server must not spend its
// load generator's CPU on it: the keys derived from a (password, salt, iterations) triple
// are cached, so each account pays PBKDF2 once per run, not once per login.

import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';

const GS2_HEADER = 'n,,';
/** base64("n,,"): the c= attribute of the final message when there is no channel binding. */
const CHANNEL_BINDING = 'biws';

interface DerivedKeys {
  clientKey: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

const derived = new Map<string, Promise<DerivedKeys>>();

function deriveKeys(password: string, salt: Buffer, iterations: number): Promise<DerivedKeys> {
  const key = `${iterations}\0${salt.toString('base64')}\0${password}`;
  let keys = derived.get(key);
  if (keys === undefined) {
    keys = new Promise<DerivedKeys>((resolve, reject) => {
      pbkdf2(password, salt, iterations, 20, 'sha1', (err, salted) => {
        if (err) {
          reject(err);
          return;
        }
        const clientKey = createHmac('sha1', salted).update('Client Key').digest();
        resolve({
          clientKey,
          storedKey: createHash('sha1').update(clientKey).digest(),
          serverKey: createHmac('sha1', salted).update('Server Key').digest(),
        });
      });
    });
    derived.set(key, keys);
  }
  return keys;
}

/** RFC 5802 §5.1: "=" and "," in a username travel as "=3D" and "=2C". */
function escapeUsername(username: string): string {
  return username.replaceAll('=', '=3D').replaceAll(',', '=2C');
}

function attribute(message: string, name: string): string | undefined {
  for (const part of message.split(',')) {
    if (part.length > 1 && part[0] === name && part[1] === '=') return part.slice(2);
  }
  return undefined;
}

/** One SCRAM-SHA-1 exchange: initial message, answer to the server's challenge, check of its signature. */
export class ScramSha1Client {
  private readonly nonce = randomBytes(18).toString('base64');
  private readonly clientFirstBare: string;
  private serverSignature: Buffer | undefined;

  constructor(
    username: string,
    private readonly password: string,
  ) {
    this.clientFirstBare = `n=${escapeUsername(username)},r=${this.nonce}`;
  }

  /** The client-first-message (RFC 5802 §5.1), to send base64-encoded in <auth/>. */
  initial(): string {
    return GS2_HEADER + this.clientFirstBare;
  }

  /** Answers the server-first-message with the client-final-message. */
  async respond(serverFirst: string): Promise<string> {
    const nonce = attribute(serverFirst, 'r');
    const salt = attribute(serverFirst, 's');
    const iterations = Number(attribute(serverFirst, 'i'));
    if (nonce === undefined || !nonce.startsWith(this.nonce) || nonce.length === this.nonce.length) {
      throw new Error(`SCRAM: the server nonce does not extend ours: ${serverFirst}`);
    }
    if (salt === undefined || !Number.isSafeInteger(iterations) || iterations < 1) {
      throw new Error(`SCRAM: bad server-first-message: ${serverFirst}`);
    }
    const keys = await deriveKeys(this.password, Buffer.from(salt, 'base64'), iterations);
    const withoutProof = `c=${CHANNEL_BINDING},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = createHmac('sha1', keys.storedKey).update(authMessage).digest();
    const proof = Buffer.allocUnsafe(signature.length);
    for (let i = 0; i < signature.length; i++) proof[i] = keys.clientKey[i]! ^ signature[i]!;
    this.serverSignature = createHmac('sha1', keys.serverKey).update(authMessage).digest();
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Checks the server-final-message (RFC 5802 §5.1 "v="): the server knew our keys too. */
  verify(serverFinal: string): void {
    const error = attribute(serverFinal, 'e');
    if (error !== undefined) throw new Error(`SCRAM: server error ${error}`);
    const v = attribute(serverFinal, 'v');
    if (this.serverSignature === undefined || v === undefined) {
      throw new Error(`SCRAM: no server signature in ${JSON.stringify(serverFinal)}`);
    }
    const given = Buffer.from(v, 'base64');
    if (given.length !== this.serverSignature.length || !timingSafeEqual(given, this.serverSignature)) {
      throw new Error('SCRAM: the server signature does not match');
    }
  }
}

/** How many distinct (password, salt, iterations) triples PBKDF2 has run for. */
export function derivedKeyCount(): number {
  return derived.size;
}
