// XEP-0115 caps as the PEP service reads its clients' (§5.4): the <c/> of a presence, the
// disco#info answer and its validity (§5.4 step 3.6), the hash check against the §5.2 worked
// example, the "+notify" interests (XEP-0060 §9.2), and the cache: one query for many
// presences with the same 'ver', verified answers kept, wrong or unverifiable ones not.

import { expect } from 'chai';
import { jid } from '../../src/jid.js';
import type { Element } from '../../src/xml/element.js';
import { parseStored } from '../../src/xml/fragment.js';
import { NS } from '../../src/xml/ns.js';
import {
  CapsCache,
  type CapsRef,
  cacheKey,
  notifyInterests,
  readCaps,
  readDiscoInfo,
  verifies,
} from './caps.js';

const EXODUS_FEATURES = [
  'http://jabber.org/protocol/caps',
  'http://jabber.org/protocol/disco#info',
  'http://jabber.org/protocol/disco#items',
  'http://jabber.org/protocol/muc',
];

function query(inner: string): Element {
  return parseStored(`<query xmlns="${NS.DISCO_INFO}">${inner}</query>`);
}

const exodus = query(
  '<identity category="client" type="pc" name="Exodus 0.9.1"/>' +
    EXODUS_FEATURES.map((f) => `<feature var="${f}"/>`).join(''),
);
const EXODUS: CapsRef = {
  hash: 'sha-1',
  node: 'http://code.google.com/p/exodus',
  ver: 'QgayPKawpkPSDYmwT/WM94uAlu0=',
};

describe('XEP-0115 caps of clients', () => {
  it('reads the <c/> of a presence', () => {
    const presence = parseStored(
      `<presence xmlns="jabber:client"><c xmlns="${NS.CAPS}" hash="sha-1" node="n" ver="v"/></presence>`,
    );
    expect(readCaps(presence)).to.deep.equal({ hash: 'sha-1', node: 'n', ver: 'v' });
    expect(readCaps(parseStored('<presence xmlns="jabber:client"/>'))).to.equal(undefined);
    const legacy = parseStored(
      `<presence xmlns="jabber:client"><c xmlns="${NS.CAPS}" node="n" ver="1.0"/></presence>`,
    );
    expect(readCaps(legacy)).to.deep.equal({ hash: undefined, node: 'n', ver: '1.0' });
  });

  it('caches globally only caps with a hash function it knows (§5.4, §8.3)', () => {
    expect(cacheKey(EXODUS)).to.equal('sha-1 QgayPKawpkPSDYmwT/WM94uAlu0=');
    expect(cacheKey({ ...EXODUS, hash: 'sha-256' })).to.equal('sha-256 QgayPKawpkPSDYmwT/WM94uAlu0=');
    expect(cacheKey({ ...EXODUS, hash: 'md2' })).to.equal(undefined);
    expect(cacheKey({ ...EXODUS, hash: undefined })).to.equal(undefined);
  });

  it('verifies the §5.2 example, and nothing else', () => {
    const info = readDiscoInfo(exodus)!;
    expect(verifies(info, EXODUS)).to.equal(true);
    expect(verifies(info, { ...EXODUS, ver: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' })).to.equal(false);
    expect(verifies({ ...info, features: [...info.features, 'urn:extra'] }, EXODUS)).to.equal(false);
    expect(verifies(info, { ...EXODUS, hash: undefined })).to.equal(false);
  });

  const invalid: Array<[string, string]> = [
    ['a duplicate feature', '<feature var="a"/><feature var="a"/>'],
    [
      'a duplicate identity',
      '<identity category="client" type="pc"/><identity category="client" type="pc"/>',
    ],
    ['an identity without type', '<identity category="client"/>'],
    [
      'two forms of one FORM_TYPE',
      `<x xmlns="${NS.DATA_FORMS}" type="result"><field var="FORM_TYPE" type="hidden"><value>u</value></field></x>`.repeat(
        2,
      ),
    ],
    [
      'a FORM_TYPE that is not hidden',
      `<x xmlns="${NS.DATA_FORMS}" type="result"><field var="FORM_TYPE"><value>u</value></field></x>`,
    ],
  ];
  for (const [what, inner] of invalid) {
    it(`takes an answer with ${what} as invalid (§5.4 step 3.6)`, () => {
      expect(readDiscoInfo(query(inner))).to.equal(undefined);
    });
  }

  it('finds the "+notify" interests (XEP-0060 §9.2)', () => {
    expect(
      notifyInterests([
        'http://jabber.org/protocol/tune',
        'http://jabber.org/protocol/tune+notify',
        'urn:xmpp:avatar:metadata+notify',
        '+notify',
      ]),
    ).to.deep.equal(new Set(['http://jabber.org/protocol/tune', 'urn:xmpp:avatar:metadata']));
  });

  describe('the cache', () => {
    const alice = jid('alice', 'x');
    const bob = jid('bob', 'y', 'phone');
    const tuneFeatures = [...EXODUS_FEATURES, 'http://jabber.org/protocol/tune+notify'];

    function setup(answer: (node: string) => Element) {
      const stored = new Map<string, readonly string[]>();
      const asked: string[] = [];
      const invalid: string[] = [];
      const cache = new CapsCache(
        {
          get: async (key) => stored.get(key),
          put: async (key, features) => {
            stored.set(key, features);
          },
        },
        async (from, to, node) => {
          asked.push(`${from.full} ${to.full} ${node}`);
          return answer(node);
        },
        (_entity, _caps, why) => invalid.push(why),
      );
      return { cache, stored, asked, invalid };
    }

    const result = (inner: Element) =>
      parseStored(`<iq xmlns="jabber:client" type="result">${inner.toString()}</iq>`);

    it('asks once for many presences with one ver, and keeps the verified answer', async () => {
      const { cache, stored, asked } = setup(() => result(exodus));
      const all = await Promise.all([1, 2, 3].map(() => cache.interests(EXODUS, alice, bob)));
      expect(all.map((s) => [...s])).to.deep.equal([[], [], []]);
      expect(asked).to.deep.equal([`alice@x bob@y/phone ${EXODUS.node}#${EXODUS.ver}`]);
      expect(stored.get('sha-1 QgayPKawpkPSDYmwT/WM94uAlu0=')).to.deep.equal([...EXODUS_FEATURES].sort());
      expect(cache.known(EXODUS)).to.deep.equal(new Set());
      await cache.interests(EXODUS, alice, bob);
      expect(asked).to.have.length(1);
    });

    it('uses, but does not keep, an answer that does not hash to the ver', async () => {
      const lying = query(
        '<identity category="client" type="pc" name="Exodus 0.9.1"/>' +
          tuneFeatures.map((f) => `<feature var="${f}"/>`).join(''),
      );
      const { cache, stored, asked, invalid } = setup(() => result(lying));
      expect(await cache.interests(EXODUS, alice, bob)).to.deep.equal(
        new Set(['http://jabber.org/protocol/tune']),
      );
      expect(stored.size).to.equal(0);
      expect(cache.known(EXODUS)).to.equal(undefined);
      expect(invalid).to.deep.equal(['the disco#info answer does not hash to the announced ver']);
      await cache.interests(EXODUS, alice, bob);
      expect(asked).to.have.length(2);
    });

    it('asks every time for legacy caps, keeping nothing', async () => {
      const { cache, stored, asked } = setup(() => result(query('<feature var="urn:n+notify"/>')));
      const legacy: CapsRef = { hash: undefined, node: 'n', ver: '1.0' };
      expect(await cache.interests(legacy, alice, bob)).to.deep.equal(new Set(['urn:n']));
      await cache.interests(legacy, alice, bob);
      expect(asked).to.have.length(2);
      expect(stored.size).to.equal(0);
    });

    it('takes an error or a silent entity as no interests', async () => {
      const { cache } = setup(() => parseStored('<iq xmlns="jabber:client" type="error"/>'));
      expect(await cache.interests(EXODUS, alice, bob)).to.deep.equal(new Set());
      const silent = new CapsCache(
        { get: async () => undefined, put: async () => {} },
        async () => {
          throw new Error('timed out');
        },
        () => {},
      );
      expect(await silent.interests(EXODUS, alice, bob)).to.deep.equal(new Set());
    });

    it('answers from storage without asking', async () => {
      const { cache, stored, asked } = setup(() => result(exodus));
      stored.set('sha-1 QgayPKawpkPSDYmwT/WM94uAlu0=', tuneFeatures);
      expect(await cache.interests(EXODUS, alice, bob)).to.deep.equal(
        new Set(['http://jabber.org/protocol/tune']),
      );
      expect(asked).to.deep.equal([]);
    });
  });
});
