// End-to-end encrypted messages carry a plaintext body that only says "this message is
// encrypted". The assistant cannot decrypt them, and must never pass that fallback to the model
// as if it were the question: it names the encryption and asks for a plain message instead.
//
// References: XEP-0384 OMEMO (both the eu.siacs.conversations.axolotl version clients ship and
// urn:xmpp:omemo:2), XEP-0373 OpenPGP for XMPP, XEP-0027 (legacy OpenPGP), XEP-0380 Explicit
// Message Encryption (which names any other method).

import type { Element } from '../xml/element.js';
import { BOT_NS } from './ns.js';

const EME_NAMES: Readonly<Record<string, string>> = {
  [BOT_NS.OMEMO_LEGACY]: 'OMEMO',
  [BOT_NS.OMEMO]: 'OMEMO',
  [BOT_NS.OPENPGP]: 'OpenPGP',
  [BOT_NS.LEGACY_PGP]: 'OpenPGP',
  'urn:xmpp:otr:0': 'OTR',
};

/** The name of the end-to-end encryption a message uses, or undefined for a plain message. */
export function encryptionOf(message: Element): string | undefined {
  for (const child of message.children) {
    if (typeof child === 'string') continue;
    const ns = child.getNS();
    switch (child.localName) {
      case 'encrypted':
        if (ns === BOT_NS.OMEMO_LEGACY || ns === BOT_NS.OMEMO) return 'OMEMO';
        break;
      case 'openpgp':
        if (ns === BOT_NS.OPENPGP) return 'OpenPGP';
        break;
      case 'x':
        if (ns === BOT_NS.LEGACY_PGP) return 'OpenPGP';
        break;
      case 'encryption':
        if (ns === BOT_NS.EME) {
          const method = child.attr('namespace') ?? '';
          return child.attr('name') ?? EME_NAMES[method] ?? 'end-to-end encryption';
        }
        break;
    }
  }
  return undefined;
}

export function encryptedRefusal(method: string): string {
  return (
    `I cannot read ${method}-encrypted messages: I would have to hand the text to the language model in ` +
    'the clear anyway. Please turn encryption off for this chat and ask again.'
  );
}
