// XEP-0045 §6 service discovery: the service (§6.1, §6.2: identity conference/text and its
// features), its public rooms (§6.3), a room's features and muc#roominfo form (§6.4, §15.5.4,
// with XEP-0486's avatar hash), a room's items (§6.5: occupants, to occupants only), and the
// reserved-nickname node (§7.12, x-roomuser-item). XEP-0030 answers throughout.

import { StanzaError } from '../../src/core/errors.js';
import type { JID } from '../../src/jid.js';
import { type Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { roomTypeFeatures } from './config.js';
import type { MucContext } from './context.js';
import { bool, buildForm, type FieldSpec } from './forms.js';
import type { Room } from './room.js';

const RESERVED_NICK_NODE = 'x-roomuser-item';
const TRAFFIC_NODE = 'http://jabber.org/protocol/muc#traffic';

/** §6.2: what the service is and does. */
export function serviceInfo(name: string, node: string | undefined): Element {
  if (node !== undefined) throw new StanzaError('item-not-found', `no such node: ${node}`);
  return x(
    'query',
    { xmlns: NS.DISCO_INFO },
    x('identity', { category: 'conference', type: 'text', name }),
    // XEP-0421 §3.4: occupant ids are on in every room, so the service says so too.
    [NS.DISCO_INFO, NS.DISCO_ITEMS, NS.MUC, NS.MUC_STABLE_ID, NS.OCCUPANT_ID, NS.PING, NS.VCARD].map((v) =>
      x('feature', { var: v }),
    ),
  );
}

/** §6.3: the public rooms (hidden and locked ones are not listed). */
export function serviceItems(rooms: Iterable<Room>, node: string | undefined): Element {
  if (node !== undefined) throw new StanzaError('item-not-found', `no such node: ${node}`);
  const query = x('query', { xmlns: NS.DISCO_ITEMS });
  for (const room of rooms) {
    if (!room.config.public || room.locked || room.destroyed) continue;
    query.append(x('item', { jid: room.jid.bare, name: room.config.name || room.name }));
  }
  return query;
}

/** §6.4 (and §7.12 for the reserved-nickname node). */
export function roomInfo(ctx: MucContext, room: Room, from: JID, node: string | undefined): Element {
  if (node === RESERVED_NICK_NODE) {
    const nick = room.affiliations.get(from.bare)?.nick;
    return x(
      'query',
      { xmlns: NS.DISCO_INFO, node },
      nick !== undefined && x('identity', { category: 'conference', type: 'text', name: nick }),
    );
  }
  // §18.1.1: this room reflects every namespace, so it has no list of allowed traffic.
  if (node === TRAFFIC_NODE)
    throw new StanzaError('service-unavailable', 'this room passes every namespace through');
  if (node !== undefined) throw new StanzaError('item-not-found', `no such node: ${node}`);
  const config = room.config;
  const features = [
    NS.MUC,
    NS.MUC_STABLE_ID,
    NS.DISCO_INFO,
    NS.REGISTER,
    NS.MUC_REQUEST,
    NS.VCARD,
    NS.PING,
    NS.MUC_SELF_PING,
    ...roomTypeFeatures(config),
  ];
  for (const extra of ctx.extensions.roomFeatures) features.push(...extra(room));
  const fields: FieldSpec[] = [
    { var: 'muc#roomconfig_roomname', label: 'Natural-Language Room Name', values: [config.name] },
    { var: 'muc#roominfo_description', label: 'Description', values: [config.description] },
    { var: 'muc#roominfo_subject', label: 'Current Discussion Topic', values: [room.subject?.text ?? ''] },
    {
      var: 'muc#roominfo_subjectmod',
      type: 'boolean',
      label: 'The room subject can be modified by participants',
      values: [bool(config.changeSubject)],
    },
    {
      var: 'muc#roomconfig_changesubject',
      type: 'boolean',
      label: 'Subject can be modified',
      values: [bool(config.changeSubject)],
    },
    { var: 'muc#roominfo_occupants', label: 'Number of occupants', values: [String(room.occupantCount)] },
    {
      var: 'muc#maxhistoryfetch',
      label: 'Maximum Number of History Messages Returned by Room',
      values: [String(config.historyLength)],
    },
  ];
  if (config.lang !== '')
    fields.push({ var: 'muc#roominfo_lang', label: 'Language of discussion', values: [config.lang] });
  if (config.pubsub !== '')
    fields.push({ var: 'muc#roomconfig_pubsub', label: 'Associated pubsub node', values: [config.pubsub] });
  // Owners' addresses only where the room shows real JIDs anyway.
  if (config.whois === 'anyone')
    fields.push({
      var: 'muc#roominfo_contactjid',
      type: 'jid-multi',
      label: 'Contact Addresses',
      values: room.listOf('owner'),
    });
  // XEP-0486 §3.3: the hashes of the room's avatar, when it has one.
  if (room.vcard !== undefined && room.vcard.hashes.length > 0)
    fields.push({
      var: 'muc#roominfo_avatarhash',
      type: 'text-multi',
      label: 'Avatar hash',
      values: room.vcard.hashes,
    });
  for (const extra of ctx.extensions.roomInfoFields) fields.push(...extra(room));
  return x(
    'query',
    { xmlns: NS.DISCO_INFO },
    x('identity', { category: 'conference', type: 'text', name: config.name || room.name }),
    [...new Set(features)].map((v) => x('feature', { var: v })),
    buildForm('result', NS.MUC_ROOMINFO, fields),
  );
}

/** §6.5: the occupants, to occupants (to anyone else the list is private: empty). */
export function roomItems(ctx: MucContext, room: Room, from: JID, node: string | undefined): Element {
  if (node !== undefined) {
    const items = ctx.extensions.roomItemNodes.get(node);
    if (items === undefined) throw new StanzaError('item-not-found', `no such node: ${node}`);
    return x('query', { xmlns: NS.DISCO_ITEMS, node }, items(room, from));
  }
  const query = x('query', { xmlns: NS.DISCO_ITEMS });
  if (room.occupantOf(from) === undefined) return query;
  for (const occupant of room.occupants.values())
    query.append(x('item', { jid: occupant.jid.full, name: occupant.nick }));
  return query;
}
