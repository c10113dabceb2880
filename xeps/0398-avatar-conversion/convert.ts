// XEP-0398: User Avatar to vCard-Based Avatars Conversion — https://xmpp.org/extensions/xep-0398.html
// §3 both ways between a vCard's PHOTO (XEP-0054, XEP-0153) and the avatar of XEP-0084: the
// data item (id: the SHA-1 of the image, §4.2 of XEP-0084) and the metadata item with one
// <info/> (bytes, id, type, and the size in pixels when the image says it). Pure.

import { createHash } from 'node:crypto';
import { type Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

/** An image, as both formats carry it. */
export interface Photo {
  /** The content type (vCard TYPE, metadata 'type'). */
  readonly type: string;
  readonly data: Buffer;
}

/** XEP-0084 §4.2, XEP-0153 §3.1: the lower-case hex SHA-1 of the image data. */
export function sha1(data: Buffer): string {
  return createHash('sha1').update(data).digest('hex');
}

/** The photo a vCard carries inline (an EXTVAL is no image the server has). */
export function photoOf(vCard: Element | undefined): Photo | undefined {
  const photo = vCard?.getChild('PHOTO', NS.VCARD);
  const binval = photo?.getChild('BINVAL', NS.VCARD);
  if (photo === undefined || binval === undefined) return undefined;
  // XEP-0153 §4.5 rule 5: whitespace in BINVAL is not data (Node's decoder skips it).
  const data = Buffer.from(binval.text, 'base64');
  if (data.length === 0) return undefined;
  const type = photo.getChildText('TYPE', NS.VCARD)?.trim() || imageType(data) || 'image/png';
  return { type, data };
}

/** XEP-0084 §4.1: the data item's payload. */
export function dataPayload(photo: Photo): Element {
  return x('data', { xmlns: NS.AVATAR_DATA }, photo.data.toString('base64'));
}

/** XEP-0084 §4.2: the metadata item's payload, for an image published in the data node. */
export function metadataPayload(photo: Photo): Element {
  const size = imageSize(photo.data);
  return x(
    'metadata',
    { xmlns: NS.AVATAR_METADATA },
    x('info', {
      bytes: photo.data.length,
      height: size?.height,
      id: sha1(photo.data),
      type: photo.type,
      width: size?.width,
    }),
  );
}

export type MetadataChoice =
  /** XEP-0084 §4.4: an empty <metadata/>; the user publishes no avatar. */
  | { kind: 'none' }
  /** Only images hosted elsewhere (every <info/> has a 'url'): nothing to copy. */
  | { kind: 'elsewhere' }
  | { kind: 'image'; id: string; type: string };

/** XEP-0398 §3.1: the <info/> that points to the data node (the one without a 'url'). */
export function chooseInfo(metadata: Element): MetadataChoice {
  const infos = metadata.getChildren('info', NS.AVATAR_METADATA);
  if (metadata.elements.length === 0) return { kind: 'none' };
  const local = infos.find((i) => i.attrs.url === undefined && i.attrs.id !== undefined);
  if (local === undefined) return { kind: 'elsewhere' };
  return { kind: 'image', id: local.attrs.id!.toLowerCase(), type: local.attrs.type ?? 'image/png' };
}

/** The image of a data item's payload. */
export function imageData(data: Element): Buffer | undefined {
  if (data.localName !== 'data' || data.getNS() !== NS.AVATAR_DATA) return undefined;
  const bytes = Buffer.from(data.text, 'base64');
  return bytes.length === 0 ? undefined : bytes;
}

/** The vCard with `photo` as its PHOTO (a new vCard when there was none), the rest kept. */
export function withPhoto(vCard: Element | undefined, photo: Photo): Element {
  const out = x('vCard', { xmlns: NS.VCARD });
  for (const child of vCard?.children ?? []) {
    if (typeof child !== 'string' && child.localName === 'PHOTO' && child.getNS() === NS.VCARD) continue;
    out.append(typeof child === 'string' ? child : child.clone());
  }
  out.append(x('PHOTO', null, x('TYPE', null, photo.type), x('BINVAL', null, photo.data.toString('base64'))));
  return out;
}

/** The vCard without its PHOTO. */
export function withoutPhoto(vCard: Element): Element {
  const out = x('vCard', { xmlns: NS.VCARD });
  for (const child of vCard.children) {
    if (typeof child !== 'string' && child.localName === 'PHOTO' && child.getNS() === NS.VCARD) continue;
    out.append(typeof child === 'string' ? child : child.clone());
  }
  return out;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The content type the image's first bytes announce, if it is one of the common three. */
export function imageType(data: Buffer): string | undefined {
  if (data.subarray(0, 8).equals(PNG_SIGNATURE)) return 'image/png';
  if (data.length > 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'image/jpeg';
  if (data.subarray(0, 4).toString('latin1') === 'GIF8') return 'image/gif';
  return undefined;
}

/** Width and height from a PNG IHDR, a GIF logical screen or a JPEG start-of-frame; else undefined. */
export function imageSize(data: Buffer): { width: number; height: number } | undefined {
  switch (imageType(data)) {
    case 'image/png':
      if (data.length < 24 || data.subarray(12, 16).toString('latin1') !== 'IHDR') return undefined;
      return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
    case 'image/gif':
      if (data.length < 10) return undefined;
      return { width: data.readUInt16LE(6), height: data.readUInt16LE(8) };
    case 'image/jpeg':
      return jpegSize(data);
    default:
      return undefined;
  }
}

/** Walks the JPEG segments to the first SOFn marker (not DHT, JPG or DAC, which share the range). */
function jpegSize(data: Buffer): { width: number; height: number } | undefined {
  let at = 2;
  while (at + 9 < data.length) {
    if (data[at] !== 0xff) return undefined;
    const marker = data[at + 1]!;
    if (marker === 0xff) {
      at++;
      continue;
    }
    const length = data.readUInt16BE(at + 2);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: data.readUInt16BE(at + 5), width: data.readUInt16BE(at + 7) };
    }
    at += 2 + length;
  }
  return undefined;
}
