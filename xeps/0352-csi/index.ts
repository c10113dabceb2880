// XEP-0352: Client State Indication — https://xmpp.org/extensions/xep-0352.html
//
// §4 the <csi/> stream feature after authentication; <inactive/> and <active/> nonzas, never
// answered. §5 a stream starts active, and so does a resumed one (XEP-0198): resumption lets
// everything held go. §6 ordering: the nonzas are handled in turn with the client's stanzas, and
// <active/> lets everything held go before the next element is processed. §7 nothing about the
// state leaves the server.
//
// While a client is inactive its session carries a gate (gate.ts) that holds back what may wait
// (importance.ts). Besides <active/> and urgent stanzas, anything the client itself sends lets
// the held stanzas go: its radio is awake anyway, so they cost it nothing extra then.

import { bool, type ConfigOf, int, section } from '../../src/config/schema.js';
import { defineModule } from '../../src/core/module.js';
import type { ClientSession } from '../../src/core/session.js';
import { x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { InactiveGate } from './gate.js';
import type { HoldPolicy } from './importance.js';

/** Before every module that might route, answer or refuse a client's stanza. */
const CLIENT_TRAFFIC_PRIORITY = 10_000;

const configSection = section({
  doc: 'XEP-0352 client state indication: what waits while a client says it is inactive.',
  fields: {
    queue_size: int({
      default: 100,
      min: 1,
      max: 10_000,
      unit: 'stanzas',
      doc: 'Stanzas held for an inactive client before they are all sent anyway.',
    }),
    hold_presence: bool({
      default: true,
      doc: "Hold contacts' presence updates (only the latest of each resource is sent).",
    }),
    hold_chat_states: bool({
      default: true,
      doc: 'Hold XEP-0085 chat states (only the latest per sender and conversation is sent).',
    }),
    hold_receipts: bool({
      default: true,
      doc: 'Hold XEP-0184 delivery receipts and XEP-0333 chat markers that carry no message.',
    }),
    hold_pep: bool({
      default: true,
      doc: 'Hold PEP notifications (only the latest about each item is sent).',
    }),
  },
});

export default defineModule<ConfigOf<typeof configSection>>({
  name: 'csi',
  implements: [
    {
      spec: { xep: 352 },
      title: 'Client State Indication',
      version: '1.0.0',
      status: 'complete',
      note:
        'while inactive: presence folded to the latest per sender, chat states to the latest per ' +
        'sender and conversation, PEP notifications to the latest per item, receipts and markers ' +
        'held; an urgent stanza (iq, message with a body, subscription request, …), a full buffer, ' +
        '<active/>, resumption or any stanza from the client sends everything held first, in order',
      since: '0.1.0',
      tests: ['test/integration/csi.test.ts', 'test/unit/csi.test.ts'],
    },
  ],
  configSection,
  setup(ctx) {
    const { config } = ctx;
    const policy: HoldPolicy = {
      presence: config.hold_presence,
      chatStates: config.hold_chat_states,
      receipts: config.hold_receipts,
      pep: config.hold_pep,
    };
    const inactive = new Map<ClientSession, InactiveGate>();

    const activate = (session: ClientSession): void => {
      const gate = inactive.get(session);
      if (!gate) return;
      inactive.delete(session);
      session.setGate(undefined);
      gate.release();
    };

    ctx.addStreamFeature(() => x('csi', { xmlns: NS.CSI }));

    ctx.handleNonza(NS.CSI, 'inactive', (session) => {
      if (inactive.has(session)) return;
      const gate = new InactiveGate(session, session.jid.bare, policy, config.queue_size);
      inactive.set(session, gate);
      session.setGate(gate);
    });
    ctx.handleNonza(NS.CSI, 'active', activate);
    ctx.hook('session/resumed', ({ session }) => activate(session));

    ctx.hook(
      'pre-route',
      ({ origin }) => {
        if (origin?.kind === 'c2s') inactive.get(origin as ClientSession)?.release();
        return undefined;
      },
      CLIENT_TRAFFIC_PRIORITY,
    );

    // What is held was never sent and is not owed to anyone: it ends with the session.
    ctx.hook('session/closed', ({ session }) => {
      if (inactive.delete(session)) session.setGate(undefined);
    });

    ctx.onUnload(() => {
      for (const session of [...inactive.keys()]) activate(session);
    });
  },
});
