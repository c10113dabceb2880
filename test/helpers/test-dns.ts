// A tiny authoritative DNS server on a loopback UDP port, answering from a table the test
// fills in: so that another server (Prosody, through libunbound's forwarder option) finds a
// test domain's SRV records and addresses without touching /etc/hosts or the real DNS.
//
// RFC 1035 §4.1 (message format: header, question, resource records; §4.1.4 name compression,
// used here only as a pointer to the question name), RFC 2782 (SRV RDATA: priority, weight,
// port, target), RFC 3596 (AAAA). Only what the tests need: one question per query, IN class,
// A, AAAA and SRV answers, NXDOMAIN for names not in the table, an empty answer for a name that
// has no record of the type asked (NODATA).

import dgram from 'node:dgram';
import net from 'node:net';

export type DnsRecord =
  | { type: 'A'; address: string }
  | { type: 'AAAA'; address: string }
  | { type: 'SRV'; priority: number; weight: number; port: number; target: string };

export interface TestDns {
  /** Where to send queries, e.g. for libunbound's `forward` option: `127.0.0.1@<port>`. */
  readonly address: string;
  readonly port: number;
  /** Replaces the records of a name (lower case, no trailing dot). */
  set(name: string, records: DnsRecord[]): void;
  /** Every question asked so far, as `<name> <type>`. */
  readonly queries: string[];
  stop(): Promise<void>;
}

const TYPE = { A: 1, AAAA: 28, SRV: 33 } as const;
const TYPE_NAME = new Map<number, string>([
  [1, 'A'],
  [28, 'AAAA'],
  [33, 'SRV'],
]);
const CLASS_IN = 1;
const RCODE = { noError: 0, formErr: 1, nxDomain: 3, notImp: 4 } as const;
const TTL_SECONDS = 5;

export async function startTestDns(): Promise<TestDns> {
  const zone = new Map<string, DnsRecord[]>();
  const queries: string[] = [];
  const socket = dgram.createSocket('udp4');
  socket.on('message', (message, peer) => {
    const reply = answer(message, zone, queries);
    if (reply !== undefined) socket.send(reply, peer.port, peer.address);
  });
  socket.on('error', () => {
    // A send to a vanished peer: nothing to do, the resolver retries.
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  return {
    address: `127.0.0.1@${port}`,
    port,
    queries,
    set(name, records) {
      zone.set(name.toLowerCase().replace(/\.$/, ''), records);
    },
    stop: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

function answer(query: Buffer, zone: Map<string, DnsRecord[]>, queries: string[]): Buffer | undefined {
  if (query.length < 12) return undefined;
  const id = query.readUInt16BE(0);
  const flags = query.readUInt16BE(2);
  if (flags & 0x8000) return undefined; // a response, not a query
  const recursionDesired = flags & 0x0100;
  const questions = query.readUInt16BE(4);
  const header = (rcode: number, answers: number) => {
    const h = Buffer.alloc(12);
    h.writeUInt16BE(id, 0);
    // QR, AA, RD as asked, RA, and the response code.
    h.writeUInt16BE(0x8000 | 0x0400 | recursionDesired | 0x0080 | rcode, 2);
    h.writeUInt16BE(questions === 1 ? 1 : 0, 4);
    h.writeUInt16BE(answers, 6);
    return h;
  };
  if (questions !== 1) return header(RCODE.notImp, 0);
  const parsed = readName(query, 12);
  if (parsed === undefined || parsed.end + 4 > query.length) return header(RCODE.formErr, 0);
  const qtype = query.readUInt16BE(parsed.end);
  const qclass = query.readUInt16BE(parsed.end + 2);
  const question = query.subarray(12, parsed.end + 4);
  const name = parsed.name.toLowerCase();
  queries.push(`${name} ${TYPE_NAME.get(qtype) ?? qtype}`);
  const records = zone.get(name);
  if (records === undefined) return Buffer.concat([header(RCODE.nxDomain, 0), question]);
  const matching = qclass === CLASS_IN ? records.filter((r) => TYPE[r.type] === qtype) : [];
  const rrs = matching.map((r) => resourceRecord(r));
  return Buffer.concat([header(RCODE.noError, rrs.length), question, ...rrs]);
}

/** A name from the question section (no compression in questions). */
function readName(buf: Buffer, offset: number): { name: string; end: number } | undefined {
  const labels: string[] = [];
  let at = offset;
  while (at < buf.length) {
    const length = buf[at]!;
    if (length === 0) return { name: labels.join('.'), end: at + 1 };
    if (length > 63 || at + 1 + length > buf.length) return undefined;
    labels.push(buf.toString('latin1', at + 1, at + 1 + length));
    at += 1 + length;
  }
  return undefined;
}

function encodeName(name: string): Buffer {
  const parts = name
    .replace(/\.$/, '')
    .split('.')
    .filter((l) => l !== '');
  return Buffer.concat([
    ...parts.map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'latin1')])),
    Buffer.from([0]),
  ]);
}

function resourceRecord(record: DnsRecord): Buffer {
  let rdata: Buffer;
  switch (record.type) {
    case 'A':
      rdata = Buffer.from(record.address.split('.').map(Number));
      break;
    case 'AAAA':
      rdata = ipv6Bytes(record.address);
      break;
    case 'SRV': {
      const fixed = Buffer.alloc(6);
      fixed.writeUInt16BE(record.priority, 0);
      fixed.writeUInt16BE(record.weight, 2);
      fixed.writeUInt16BE(record.port, 4);
      rdata = Buffer.concat([fixed, encodeName(record.target)]);
      break;
    }
  }
  const fixed = Buffer.alloc(12);
  fixed.writeUInt16BE(0xc00c, 0); // the owner name: a pointer to the question's name
  fixed.writeUInt16BE(TYPE[record.type], 2);
  fixed.writeUInt16BE(CLASS_IN, 4);
  fixed.writeUInt32BE(TTL_SECONDS, 6);
  fixed.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([fixed, rdata]);
}

function ipv6Bytes(address: string): Buffer {
  if (!net.isIPv6(address)) throw new RangeError(`not an IPv6 address: ${address}`);
  const [head = '', tail = ''] = address.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::')
    ? [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups]
    : headGroups;
  const out = Buffer.alloc(16);
  for (const [i, g] of groups.entries()) out.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  return out;
}
