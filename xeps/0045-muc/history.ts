// XEP-0045 §7.2.12, §7.2.13: the discussion history a room keeps in memory and sends to a
// new occupant, limited by what the occupant asked for (maxchars, maxstanzas, seconds, since)
// and by the room's own length (muc#maxhistoryfetch). Pure: the entries carry the size of
// their stanza as it will be sent, computed by the caller.

import type { Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

export interface HistoryEntry {
  /** The message as broadcast, without `to`. */
  readonly stanza: Element;
  /** When the room received it (ms since the epoch). */
  readonly at: number;
}

/** What a joiner asked for in <history/> (§7.2.13); absent limits are undefined. */
export interface HistoryRequest {
  readonly maxchars?: number;
  readonly maxstanzas?: number;
  readonly seconds?: number;
  /** ms since the epoch. */
  readonly since?: number;
}

const NON_NEGATIVE_INT = /^\d{1,15}$/;
/** XEP-0082 DateTime: the profile Date.parse reads, with a mandatory time zone. */
const DATETIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$/;

/** Reads the <history/> of a join's <x xmlns='…muc'/>; malformed attributes are ignored. */
export function readHistoryRequest(x: Element | undefined): HistoryRequest {
  const history = x?.getChild('history', NS.MUC);
  if (history === undefined) return {};
  const int = (name: string): number | undefined => {
    const value = history.attrs[name];
    return value !== undefined && NON_NEGATIVE_INT.test(value) ? Number(value) : undefined;
  };
  const sinceText = history.attrs.since;
  const since = sinceText !== undefined && DATETIME.test(sinceText) ? Date.parse(sinceText) : Number.NaN;
  return {
    maxchars: int('maxchars'),
    maxstanzas: int('maxstanzas'),
    seconds: int('seconds'),
    since: Number.isNaN(since) ? undefined : since,
  };
}

/**
 * The entries to send (oldest first): the smallest amount of history that meets every limit
 * (§7.2.13 "MUST send the smallest amount of traffic that meets any combination"), whole
 * stanzas only, at most the room's `length`. `sizeOf` is the length in characters of an entry
 * as it will be sent (delay and addresses included), for maxchars.
 */
export function selectHistory(
  entries: readonly HistoryEntry[],
  request: HistoryRequest,
  length: number,
  now: number,
  sizeOf: (entry: HistoryEntry) => number,
): HistoryEntry[] {
  let count = Math.min(length, entries.length);
  if (request.maxstanzas !== undefined) count = Math.min(count, request.maxstanzas);
  let oldest = -Infinity;
  if (request.seconds !== undefined) oldest = Math.max(oldest, now - request.seconds * 1000);
  if (request.since !== undefined) oldest = Math.max(oldest, request.since);
  const out: HistoryEntry[] = [];
  let chars = 0;
  // From the newest backwards, so that each limit cuts off the oldest messages.
  for (let i = entries.length - 1; i >= 0 && out.length < count; i--) {
    const entry = entries[i]!;
    if (entry.at < oldest) break;
    if (request.maxchars !== undefined) {
      chars += sizeOf(entry);
      if (chars > request.maxchars) break;
    }
    out.push(entry);
  }
  return out.reverse();
}

/** The last `capacity` messages of a room, in a ring. */
export class HistoryBuffer {
  private ring: HistoryEntry[] = [];
  private start = 0;

  constructor(private capacity: number) {}

  push(entry: HistoryEntry): void {
    if (this.capacity === 0) return;
    if (this.ring.length < this.capacity) this.ring.push(entry);
    else {
      this.ring[this.start] = entry;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  /** Replaces the stanza of every entry `match` picks (a retracted message by its tombstone). */
  replace(match: (entry: HistoryEntry) => boolean, stanza: Element): void {
    for (let i = 0; i < this.ring.length; i++) {
      const entry = this.ring[i]!;
      if (match(entry)) this.ring[i] = { stanza, at: entry.at };
    }
  }

  /** Oldest first. */
  entries(): HistoryEntry[] {
    return this.start === 0
      ? this.ring.slice()
      : [...this.ring.slice(this.start), ...this.ring.slice(0, this.start)];
  }

  /** Keeps the newest `capacity` entries from now on. */
  resize(capacity: number): void {
    const kept = this.entries().slice(Math.max(0, this.ring.length - capacity));
    this.ring = kept;
    this.start = 0;
    this.capacity = capacity;
  }

  get size(): number {
    return this.ring.length;
  }
}
