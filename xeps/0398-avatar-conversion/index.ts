// XEP-0398: User Avatar to vCard-Based Avatars Conversion — https://xmpp.org/extensions/xep-0398.html
//
//   §2    the "urn:xmpp:pep-vcard-conversion:0" feature on accounts
//   §3.1  PEP → vCard: a client's publication to the metadata node puts the image of the data
//         node in the vCard's PHOTO — only when the data node is open (§7: a vCard is world
//         readable) and the image hashes to its id; an empty <metadata/> removes the PHOTO
//   §3.2  vCard → PEP: a client's vCard with a photo is published to the data node, then the
//         metadata node (open nodes when this creates them), and contacts are notified as for
//         any publication; a vCard without a photo leaves the PEP avatar alone (§3.2 speaks
//         of photos only, and clients that rewrite their vCard often drop it unaware)
//   §4    the photo hash in presence: the vCard module does it (XEP-0153), and follows the
//         PHOTO set here
//
// Neither direction echoes the other: what this module writes carries its cause (PEP) or
// goes through the vCard service, which tells no listener.

import { defineModule } from '../../src/core/module.js';
import type { JID } from '../../src/jid.js';
import type { Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import type { VCardService } from '../0054-vcard/service.js';
import type { PepChange, PepService } from '../0163-pep/service.js';
import {
  chooseInfo,
  dataPayload,
  imageData,
  metadataPayload,
  photoOf,
  sha1,
  withoutPhoto,
  withPhoto,
} from './convert.js';

const CAUSE = 'avatar-conversion';

export default defineModule({
  name: 'avatar_conversion',
  implements: [
    {
      spec: { xep: 398 },
      title: 'User Avatar to vCard-Based Avatars Conversion',
      version: '1.0.0',
      status: 'complete',
      note: 'both ways; PEP to vCard only from an open data node; a vCard without photo leaves PEP alone',
      since: '0.1.0',
      tests: ['test/integration/avatars.test.ts', 'xeps/0398-avatar-conversion/convert.test.ts'],
    },
  ],
  setup(ctx) {
    const { server } = ctx;
    const pep = server.services.get('pep');
    const vcards = server.services.get('vcard');
    if (pep === undefined || vcards === undefined) {
      ctx.log.warn('avatar conversion needs the pep and vcard modules; it is off');
      return;
    }
    ctx.onUnload(server.disco.addAccountFeature(NS.PEP_VCARD_CONVERSION));
    const fail = (account: JID) => (error: unknown) =>
      ctx.log.error('avatar conversion failed', { account: account.bare, error });
    ctx.onUnload(
      pep.watch(NS.AVATAR_METADATA, (change) => toVCard(pep, vcards, change).catch(fail(change.owner))),
    );
    ctx.onUnload(vcards.watch((account, vCard) => toPep(pep, account, vCard).catch(fail(account))));
  },
});

/** §3.1 */
async function toVCard(pep: PepService, vcards: VCardService, change: PepChange): Promise<void> {
  if (change.cause === CAUSE || change.kind !== 'publish') return;
  const { owner } = change;
  const metadata = change.item.payload;
  if (metadata.localName !== 'metadata' || metadata.getNS() !== NS.AVATAR_METADATA) return;
  const choice = chooseInfo(metadata);
  const vCard = await vcards.get(owner);
  if (choice.kind === 'none') {
    if (photoOf(vCard) !== undefined) await vcards.put(owner, withoutPhoto(vCard!));
    return;
  }
  if (choice.kind !== 'image') return;
  // §7: only an avatar anyone may see goes where anyone may read it.
  if ((await pep.config(owner, NS.AVATAR_DATA))?.accessModel !== 'open') return;
  const item = (await pep.items(owner, NS.AVATAR_DATA)).find((i) => i.id.toLowerCase() === choice.id);
  const data = item === undefined ? undefined : imageData(item.payload);
  // §3.1: the image must be the one the metadata names.
  if (data === undefined || sha1(data) !== choice.id) return;
  const current = photoOf(vCard);
  if (current !== undefined && sha1(current.data) === choice.id && current.type === choice.type) return;
  await vcards.put(owner, withPhoto(vCard, { type: choice.type, data }));
}

/** §3.2 */
async function toPep(pep: PepService, account: JID, vCard: Element | undefined): Promise<void> {
  const photo = photoOf(vCard);
  if (photo === undefined) return;
  const id = sha1(photo.data);
  const [published] = (await pep.items(account, NS.AVATAR_METADATA)).slice(-1);
  const choice = published === undefined ? undefined : chooseInfo(published.payload);
  if (choice?.kind === 'image' && choice.id === id) return;
  const options = { create: { accessModel: 'open' as const }, cause: CAUSE };
  await pep.publish(account, NS.AVATAR_DATA, { id, payload: dataPayload(photo) }, options);
  await pep.publish(account, NS.AVATAR_METADATA, { id, payload: metadataPayload(photo) }, options);
}
