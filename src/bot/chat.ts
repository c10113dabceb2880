// One-to-one chats with the assistant: who may talk to it, receipts, refusing encrypted
// payloads, commands, and questions handed to the engine.
//
// References: XEP-0184 Message Delivery Receipts §5 (a <received/> for a message that asks, sent
// only to people allowed to use the assistant); XEP-0085 (messages with only a chat state are
// not questions); XEP-0461 + XEP-0428 (a reply's quoted fallback is not part of the question).

import type { JID } from '../jid.js';
import type { Logger } from '../log.js';
import { type Element, x } from '../xml/element.js';
import { withoutFallback } from './addressing.js';
import type { AllowList } from './allow.js';
import { parseCommand } from './commands.js';
import { encryptedRefusal, encryptionOf } from './encryption.js';
import type { Engine } from './engine.js';
import { BOT_NS, NS } from './ns.js';
import { errorReply } from './stanzas.js';

export interface DirectChatOptions {
  readonly engine: Engine;
  readonly allow: AllowList;
  readonly log: Logger;
  readonly send: (stanza: Element) => void;
  readonly nextId: () => string;
  /** The assistant's bare JID. */
  readonly jid: string;
}

export class DirectChat {
  constructor(private readonly options: DirectChatOptions) {}

  /** A message (type chat or normal) addressed to the assistant. */
  handle(message: Element, from: JID): void {
    const { engine, allow, send, jid, log } = this.options;
    const body = message.getChildText('body');
    if (!allow.allows(from)) {
      if (body === undefined) return;
      log.debug('refused a message from someone not allowed', { domain: from.domain });
      const error = errorReply(
        message,
        'auth',
        'forbidden',
        'This assistant serves only the users it is configured for.',
      );
      if (error) send(error);
      return;
    }
    const id = message.attrs.id;
    if (body !== undefined && id !== undefined && message.getChild('request', NS.RECEIPTS) !== undefined)
      send(
        x(
          'message',
          { from: jid, to: from.full, id: this.options.nextId() },
          x('received', { xmlns: NS.RECEIPTS, id }),
        ),
      );
    const target = { from: jid, to: from.full, type: 'chat' as const };
    const encryption = encryptionOf(message);
    if (encryption !== undefined) {
      engine.say(target, `⚠ ${encryptedRefusal(encryption)}`);
      return;
    }
    if (body === undefined) return;
    const text = withoutFallback(message, body, BOT_NS.REPLY).trim();
    if (text === '') return;
    const asker = { kind: 'user' as const, jid: from.bare };
    const command = parseCommand(text);
    if (command !== undefined) engine.command(asker, target, command.name, command.arg);
    else engine.ask({ asker, target, text });
  }
}
