// XEP-0153 §3.1, §4.1, §4.5: the photo hash of a vCard and the update element in presence.

import { expect } from 'chai';
import { jid } from '../../src/jid.js';
import { parseStored } from '../../src/xml/fragment.js';
import { addPhoto, lacksPhoto, PhotoHashCache, photoHash, setPhoto } from './avatar.js';

// 256 bytes 0x00..0xff, base64 in 76-character lines as RFC 2045 §6.8 recommends.
const ALL_BYTES_BASE64 =
  'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4\n' +
  'OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3Bx\n' +
  'cnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmq\n' +
  'q6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj\n' +
  '5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w==';

describe('XEP-0153 photo hash', () => {
  const cases: Array<[string, string, string]> = [
    ['no PHOTO', "<vCard xmlns='vcard-temp'><FN>Juliet</FN></vCard>", ''],
    ['PHOTO without BINVAL', "<vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE></PHOTO></vCard>", ''],
    [
      'an external photo only (§4.5 rule 2)',
      "<vCard xmlns='vcard-temp'><PHOTO><EXTVAL>https://example.org/a.png</EXTVAL></PHOTO></vCard>",
      '',
    ],
    ['an empty BINVAL', "<vCard xmlns='vcard-temp'><PHOTO><BINVAL>\n</BINVAL></PHOTO></vCard>", ''],
    [
      'the SHA-1 of the decoded data, in lower-case hex',
      "<vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE><BINVAL>aGVsbG8=</BINVAL></PHOTO></vCard>",
      'aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d',
    ],
    [
      'line breaks and indentation in BINVAL ignored (§4.5 rule 5)',
      `<vCard xmlns='vcard-temp'><PHOTO><BINVAL>\n  ${ALL_BYTES_BASE64.replaceAll('\n', '\r\n  ')}\n</BINVAL></PHOTO></vCard>`,
      '4916d6bdb7f78e6803698cab32d1586ea457dfc8',
    ],
    [
      'a PHOTO in another namespace is not the vCard photo',
      "<vCard xmlns='vcard-temp'><PHOTO xmlns='urn:other'><BINVAL>aGVsbG8=</BINVAL></PHOTO></vCard>",
      '',
    ],
  ];
  for (const [what, xml, expected] of cases) {
    it(what, () => {
      expect(photoHash(parseStored(xml))).to.equal(expected);
    });
  }
});

describe('XEP-0153 photo in presence', () => {
  const cases: Array<[string, string, string, string]> = [
    [
      'an update element added with the hash',
      '<presence><show>away</show></presence>',
      'abc1',
      '<presence><show>away</show><x xmlns="vcard-temp:x:update"><photo>abc1</photo></x></presence>',
    ],
    [
      'an empty <photo/> when there is no image (§4.1 rule 3)',
      '<presence/>',
      '',
      '<presence><x xmlns="vcard-temp:x:update"><photo/></x></presence>',
    ],
    [
      "the client's own photo left alone",
      "<presence><x xmlns='vcard-temp:x:update'><photo>client</photo></x></presence>",
      'abc1',
      '<presence><x xmlns="vcard-temp:x:update"><photo>client</photo></x></presence>',
    ],
    [
      "the client's own empty photo left alone (it says: no image)",
      "<presence><x xmlns='vcard-temp:x:update'><photo/></x></presence>",
      'abc1',
      '<presence><x xmlns="vcard-temp:x:update"><photo/></x></presence>',
    ],
    [
      'an update element without photo (§4.3: the client does not know yet) completed',
      "<presence><x xmlns='vcard-temp:x:update'/><priority>5</priority></presence>",
      'abc1',
      '<presence><x xmlns="vcard-temp:x:update"><photo>abc1</photo></x><priority>5</priority></presence>',
    ],
    [
      'a <photo/> in another namespace does not count',
      "<presence><x xmlns='vcard-temp:x:update'><photo xmlns='urn:other'>z</photo></x></presence>",
      'abc1',
      '<presence><x xmlns="vcard-temp:x:update"><photo xmlns="urn:other">z</photo><photo>abc1</photo></x></presence>',
    ],
    [
      "a photo in a client's prefixed update element gets the update namespace",
      "<presence><u:x xmlns:u='vcard-temp:x:update'/></presence>",
      'abc1',
      '<presence><u:x xmlns:u="vcard-temp:x:update"><photo xmlns="vcard-temp:x:update">abc1</photo></u:x></presence>',
    ],
    [
      'unavailable presence untouched',
      "<presence type='unavailable'/>",
      'abc1',
      '<presence type="unavailable"/>',
    ],
  ];
  for (const [what, before, hash, after] of cases) {
    it(what, () => {
      const presence = parseStored(before);
      const photo = addPhoto(presence, hash);
      expect(presence.toString()).to.equal(after);
      const changed = before.replaceAll("'", '"') !== after;
      expect(photo !== undefined).to.equal(changed);
      // Afterwards there is nothing left to add.
      expect(lacksPhoto(presence)).to.equal(false);
    });
  }

  it('replaces the hash of a photo in place', () => {
    const presence = parseStored('<presence/>');
    const photo = addPhoto(presence, 'abc1')!;
    setPhoto(photo, 'def2');
    expect(presence.toString()).to.equal(
      '<presence><x xmlns="vcard-temp:x:update"><photo>def2</photo></x></presence>',
    );
    setPhoto(photo, '');
    expect(presence.toString()).to.equal('<presence><x xmlns="vcard-temp:x:update"><photo/></x></presence>');
  });
});

describe('PhotoHashCache', () => {
  const alice = jid('alice', 'example.org');

  it('loads an account once and then answers from memory', async () => {
    let loads = 0;
    const cache = new PhotoHashCache(
      async () => {
        loads++;
        return 'h1';
      },
      () => true,
    );
    expect(cache.get(alice.bare)).to.equal(undefined);
    expect(await cache.fetch(alice)).to.equal('h1');
    expect(await cache.fetch(alice)).to.equal('h1');
    expect(cache.get(alice.bare)).to.equal('h1');
    expect(loads).to.equal(1);
  });

  it('keeps a hash set while a load was in flight, not the older loaded one', async () => {
    let finish!: (hash: string) => void;
    const cache = new PhotoHashCache(
      () =>
        new Promise<string>((resolve) => {
          finish = resolve;
        }),
      () => true,
    );
    const fetching = cache.fetch(alice);
    cache.set(alice, 'new');
    finish('old');
    expect(await fetching).to.equal('new');
    expect(cache.get(alice.bare)).to.equal('new');
  });

  it('keeps nothing for an account without sessions', async () => {
    const cache = new PhotoHashCache(
      async () => 'h1',
      () => false,
    );
    expect(await cache.fetch(alice)).to.equal('h1');
    cache.set(alice, 'h2');
    expect(cache.size).to.equal(0);
  });

  it('forgets', async () => {
    const cache = new PhotoHashCache(
      async () => 'h1',
      () => true,
    );
    await cache.fetch(alice);
    cache.forget(alice.bare);
    expect(cache.get(alice.bare)).to.equal(undefined);
  });
});
