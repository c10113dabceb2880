// A group chat across servers: a user of a.localhost enters a room of b.localhost's MUC
// service (conference.b.localhost) and talks in it. The service domain is a domain pair of its
// own (RFC 6120 §8.1.1.1): a.localhost's stream to it, and its stream back to a.localhost, are
// each authenticated by dialback for that pair (XEP-0220), the service's key verified by
// asking b.localhost's server, which answers for its subdomains.

import { xml } from '@xmpp/client';
import { expect } from 'chai';
import type { TestClient } from '../helpers/client.js';
import { login } from '../helpers/im.js';
import { createInstantRoom, join, next, say, statusCodes } from './muc-support.js';
import { DOMAIN_A, DOMAIN_B, type Pair, startPair } from './s2s-support.js';

const ROOM = `lobby@conference.${DOMAIN_B}`;

describe('s2s: a room on another server', function () {
  this.timeout(30_000);
  let pair: Pair;
  let alice: TestClient;
  let bob: TestClient;

  before(async () => {
    pair = await startPair({ services: ['conference'] });
    await pair.a.addUser('alice', 'alice-secret');
    await pair.b.addUser('bob', 'bob-secret');
    alice = await login(pair.a, 'alice');
    bob = await login(pair.b, 'bob');
  });

  after(async () => {
    await Promise.all([alice?.stop().catch(() => {}), bob?.stop().catch(() => {})]);
    await pair?.stop();
  });

  it('lets a remote user enter, and carries the room’s messages both ways', async () => {
    await createInstantRoom(bob, ROOM, 'bob');
    const arrival = next(bob, (el) => el.name === 'presence' && el.attrs.from === `${ROOM}/alice`);
    const self = await join(alice, `${ROOM}/alice`);
    expect(self.attrs.type, self.toString()).to.equal(undefined);
    expect(statusCodes(self)).to.include(110);
    expect((await arrival).attrs.type).to.equal(undefined);

    const heard = next(alice, (el) => el.name === 'message' && el.attrs.from === `${ROOM}/bob`);
    await say(bob, ROOM, 'welcome, federated friend');
    const message = await heard;
    expect(message.attrs.type).to.equal('groupchat');
    expect(message.attrs.to).to.equal(alice.jid!.toString());
    expect(message.getChildText('body')).to.equal('welcome, federated friend');

    const reply = next(bob, (el) => el.name === 'message' && el.attrs.from === `${ROOM}/alice`);
    await say(alice, ROOM, 'glad to be here');
    expect((await reply).getChildText('body')).to.equal('glad to be here');

    expect(pair.a.server.federation!.manager.connections).to.include(`${DOMAIN_A}→conference.${DOMAIN_B}`);
    expect(pair.b.server.federation!.manager.connections).to.include(`conference.${DOMAIN_B}→${DOMAIN_A}`);
  });

  it('answers a disco#info query to the remote service', async () => {
    const id = 'disco-remote';
    const answer = next(alice, (el) => el.name === 'iq' && el.attrs.id === id);
    await alice.send(
      xml(
        'iq',
        { type: 'get', to: `conference.${DOMAIN_B}`, id },
        xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }),
      ),
    );
    const result = await answer;
    expect(result.attrs.type, result.toString()).to.equal('result');
    const identity = result.getChild('query')?.getChild('identity');
    expect(identity?.attrs).to.include({ category: 'conference', type: 'text' });
  });
});
