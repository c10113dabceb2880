// XEP-0045 §7.2.13 discussion history: the <history/> attributes read from a join, the
// smallest history that meets every limit, whole stanzas only, and the room's ring.

import { expect } from 'chai';
import { Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import {
  HistoryBuffer,
  type HistoryEntry,
  type HistoryRequest,
  readHistoryRequest,
  selectHistory,
} from '../../xeps/0045-muc/history.js';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const entry = (body: string, secondsAgo: number): HistoryEntry => ({
  stanza: x('message', { from: 'r@s/n', type: 'groupchat' }, x('body', null, body)),
  at: NOW - secondsAgo * 1000,
});
// Four messages, a minute apart; each "stanza" counts 100 characters.
const entries = [entry('a', 240), entry('b', 180), entry('c', 120), entry('d', 60)];
const size = () => 100;
const bodies = (list: HistoryEntry[]) => list.map((e) => e.stanza.getChildText('body'));

describe('MUC history: selection (§7.2.13)', () => {
  const cases: Array<[string, HistoryRequest, number, string[]]> = [
    ['no limits: the room length', {}, 20, ['a', 'b', 'c', 'd']],
    ['the room keeps fewer', {}, 2, ['c', 'd']],
    ['maxstanzas', { maxstanzas: 3 }, 20, ['b', 'c', 'd']],
    ['maxstanzas 0', { maxstanzas: 0 }, 20, []],
    ['maxchars: whole stanzas only', { maxchars: 250 }, 20, ['c', 'd']],
    ['maxchars exactly two', { maxchars: 200 }, 20, ['c', 'd']],
    ['maxchars 0: no history', { maxchars: 0 }, 20, []],
    ['seconds', { seconds: 150 }, 20, ['c', 'd']],
    ['since', { since: NOW - 200_000 }, 20, ['b', 'c', 'd']],
    ['since the epoch is bounded by the room', { since: 0 }, 3, ['b', 'c', 'd']],
    ['the smallest of several limits', { maxstanzas: 3, seconds: 130, maxchars: 1000 }, 20, ['c', 'd']],
    ['maxchars under maxstanzas', { maxstanzas: 3, maxchars: 100 }, 20, ['d']],
  ];
  for (const [what, request, length, expected] of cases) {
    it(what, () => {
      expect(bodies(selectHistory(entries, request, length, NOW, size))).to.deep.equal(expected);
    });
  }
});

describe('MUC history: the <history/> element', () => {
  const join = (attrs: Record<string, string>) => x('x', { xmlns: NS.MUC }, x('history', attrs));
  it('reads the four attributes', () => {
    expect(
      readHistoryRequest(
        join({ maxchars: '65000', maxstanzas: '20', seconds: '180', since: '1970-01-01T00:00:00Z' }),
      ),
    ).to.deep.equal({ maxchars: 65000, maxstanzas: 20, seconds: 180, since: 0 });
  });
  it('ignores malformed ones, and a join without <history/> asks for nothing', () => {
    expect(readHistoryRequest(join({ maxchars: '-1', maxstanzas: 'ten', since: 'yesterday' }))).to.deep.equal(
      {
        maxchars: undefined,
        maxstanzas: undefined,
        seconds: undefined,
        since: undefined,
      },
    );
    expect(readHistoryRequest(x('x', { xmlns: NS.MUC }))).to.deep.equal({});
    expect(readHistoryRequest(undefined)).to.deep.equal({});
  });
  it('reads a since with a time zone offset', () => {
    expect(readHistoryRequest(join({ since: '2026-01-01T13:00:00+01:00' })).since).to.equal(NOW);
  });
});

describe('MUC history: the ring', () => {
  const item = (n: number): HistoryEntry => ({ stanza: new Element('message'), at: n });
  it('keeps the newest entries, oldest first', () => {
    const ring = new HistoryBuffer(3);
    for (let n = 1; n <= 5; n++) ring.push(item(n));
    expect(ring.entries().map((e) => e.at)).to.deep.equal([3, 4, 5]);
    expect(ring.size).to.equal(3);
  });
  it('resizes, keeping the newest', () => {
    const ring = new HistoryBuffer(4);
    for (let n = 1; n <= 6; n++) ring.push(item(n));
    ring.resize(2);
    expect(ring.entries().map((e) => e.at)).to.deep.equal([5, 6]);
    ring.push(item(7));
    expect(ring.entries().map((e) => e.at)).to.deep.equal([6, 7]);
    ring.resize(0);
    ring.push(item(8));
    expect(ring.entries()).to.deep.equal([]);
  });
});
