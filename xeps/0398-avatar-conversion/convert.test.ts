// XEP-0398 conversions: a vCard PHOTO to XEP-0084 data and metadata (the SHA-1 id, the bytes,
// the type, the size in pixels read from PNG, GIF and JPEG headers), the <info/> to copy back
// (§3.1: not one hosted at a URL), and the vCard with its PHOTO replaced or removed.

import { expect } from 'chai';
import { parseStored } from '../../src/xml/fragment.js';
import { NS } from '../../src/xml/ns.js';
import {
  chooseInfo,
  dataPayload,
  imageData,
  imageSize,
  imageType,
  metadataPayload,
  photoOf,
  sha1,
  withoutPhoto,
  withPhoto,
} from './convert.js';

// A 2×3 PNG, a 4×5 GIF header and a 7×6 JPEG start, made apart (the PNG with Python's zlib);
// the PNG's SHA-1 from Python's hashlib.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAIAAAADCAIAAAA2iEnWAAAAEElEQVR4nGP4z8AARAwoFABE0AX7pM/egAAAAABJRU5ErkJggg==',
  'base64',
);
const PNG_SHA1 = '94458be1f7b2ef1fe17a4bae328e75cc134ea5c9';
const GIF = Buffer.from([0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x04, 0x00, 0x05, 0x00, 0x00, 0x00]);
const JPEG = Buffer.from([
  0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0xff, 0xc4, 0x00, 0x02, 0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00,
  0x06, 0x00, 0x07, 0x01, 0x01, 0x11, 0x00,
]);

const vCard = (inner: string) => parseStored(`<vCard xmlns="${NS.VCARD}">${inner}</vCard>`);

describe('XEP-0398 avatar conversions', () => {
  it('reads the photo of a vCard, whitespace in BINVAL ignored', () => {
    const b64 = PNG.toString('base64');
    const card = vCard(
      `<FN>A</FN><PHOTO><TYPE>image/png</TYPE><BINVAL>${b64.slice(0, 10)}\n  ${b64.slice(10)}</BINVAL></PHOTO>`,
    );
    expect(photoOf(card)).to.deep.equal({ type: 'image/png', data: PNG });
    expect(photoOf(vCard('<PHOTO><EXTVAL>http://e/a.png</EXTVAL></PHOTO>'))).to.equal(undefined);
    expect(photoOf(vCard('<PHOTO><BINVAL></BINVAL></PHOTO>'))).to.equal(undefined);
    expect(photoOf(undefined)).to.equal(undefined);
    // Without a TYPE, the image says what it is.
    expect(photoOf(vCard(`<PHOTO><BINVAL>${b64}</BINVAL></PHOTO>`))!.type).to.equal('image/png');
  });

  it('makes the data and metadata payloads (XEP-0084 §4)', () => {
    const photo = { type: 'image/png', data: PNG };
    expect(sha1(PNG)).to.equal(PNG_SHA1);
    expect(dataPayload(photo).toString()).to.equal(
      `<data xmlns="${NS.AVATAR_DATA}">${PNG.toString('base64')}</data>`,
    );
    expect(metadataPayload(photo).toString()).to.equal(
      `<metadata xmlns="${NS.AVATAR_METADATA}"><info bytes="73" height="3" id="${PNG_SHA1}" type="image/png" width="2"/></metadata>`,
    );
  });

  const sizes: Array<[string, Buffer, string | undefined, { width: number; height: number } | undefined]> = [
    ['PNG', PNG, 'image/png', { width: 2, height: 3 }],
    ['GIF', GIF, 'image/gif', { width: 4, height: 5 }],
    ['JPEG', JPEG, 'image/jpeg', { width: 7, height: 6 }],
    ['something else', Buffer.from('hello world, no image'), undefined, undefined],
    ['a cut PNG', PNG.subarray(0, 20), 'image/png', undefined],
  ];
  for (const [what, data, type, size] of sizes) {
    it(`reads the type and size of ${what}`, () => {
      expect(imageType(data)).to.equal(type);
      expect(imageSize(data)).to.deep.equal(size);
    });
  }

  it('chooses the <info/> of the image in the data node (§3.1)', () => {
    const metadata = (inner: string) =>
      parseStored(`<metadata xmlns="${NS.AVATAR_METADATA}">${inner}</metadata>`);
    expect(chooseInfo(metadata(''))).to.deep.equal({ kind: 'none' });
    expect(
      chooseInfo(metadata('<info id="A" type="image/gif" url="http://e/a.gif" bytes="1"/>')),
    ).to.deep.equal({
      kind: 'elsewhere',
    });
    expect(
      chooseInfo(
        metadata(
          '<info id="A" type="image/gif" url="http://e/a.gif" bytes="1"/><info id="AbC" type="image/png" bytes="1"/>',
        ),
      ),
    ).to.deep.equal({ kind: 'image', id: 'abc', type: 'image/png' });
  });

  it('reads the image of a data item', () => {
    expect(imageData(dataPayload({ type: 'image/png', data: PNG }))).to.deep.equal(PNG);
    expect(imageData(parseStored('<data xmlns="urn:other">aGk=</data>'))).to.equal(undefined);
  });

  it('replaces and removes the PHOTO of a vCard, keeping the rest', () => {
    const card = vCard(
      '<FN>A</FN><PHOTO><TYPE>image/gif</TYPE><BINVAL>R0lG</BINVAL></PHOTO><NICKNAME>a</NICKNAME>',
    );
    expect(withPhoto(card, { type: 'image/png', data: PNG }).toString()).to.equal(
      `<vCard xmlns="${NS.VCARD}"><FN>A</FN><NICKNAME>a</NICKNAME><PHOTO><TYPE>image/png</TYPE>` +
        `<BINVAL>${PNG.toString('base64')}</BINVAL></PHOTO></vCard>`,
    );
    expect(withPhoto(undefined, { type: 'image/png', data: PNG }).toString()).to.equal(
      `<vCard xmlns="${NS.VCARD}"><PHOTO><TYPE>image/png</TYPE><BINVAL>${PNG.toString('base64')}</BINVAL></PHOTO></vCard>`,
    );
    expect(withoutPhoto(card).toString()).to.equal(
      `<vCard xmlns="${NS.VCARD}"><FN>A</FN><NICKNAME>a</NICKNAME></vCard>`,
    );
  });
});
