// The registry of bound sessions (src/core/sessions.ts): one resource, several, replacement and
// refusal on a taken resource (RFC 6120 §7.7.2.2), the resource limit, and unbinding back down.

import { expect } from 'chai';
import type { ClientSession } from '../../src/core/session.js';
import { SessionRegistry } from '../../src/core/sessions.js';
import { parseJID } from '../../src/jid.js';

/** A stand-in session: the registry looks at nothing but its JID. */
function session(full: string): ClientSession {
  return { jid: parseJID(full) } as unknown as ClientSession;
}

const names = (list: Iterable<ClientSession>) => [...list].map((s) => s.jid.full).sort();

describe('session registry', () => {
  it('finds one resource, then several, and forgets them as they go', () => {
    const registry = new SessionRegistry('replace', 10);
    const phone = session('alice@example.com/phone');
    const laptop = session('alice@example.com/laptop');
    const desk = session('alice@example.com/desk');
    expect(registry.bind(phone)).to.deep.equal({ ok: true, replaced: undefined });
    expect(registry.get(parseJID('alice@example.com/phone'))).to.equal(phone);
    expect(registry.get(parseJID('alice@example.com/laptop'))).to.equal(undefined);
    expect(registry.resources('alice@example.com')).to.deep.equal([phone]);
    registry.bind(laptop);
    registry.bind(desk);
    expect(registry.size).to.equal(3);
    expect(names(registry.resources(parseJID('alice@example.com')))).to.deep.equal([
      'alice@example.com/desk',
      'alice@example.com/laptop',
      'alice@example.com/phone',
    ]);
    expect(registry.isBound(parseJID('alice@example.com/laptop'))).to.equal(true);

    expect(registry.unbind(laptop)).to.equal(true);
    expect(registry.unbind(laptop)).to.equal(false);
    expect(registry.unbind(phone)).to.equal(true);
    expect(registry.get(parseJID('alice@example.com/desk'))).to.equal(desk);
    expect(registry.get(parseJID('alice@example.com/phone'))).to.equal(undefined);
    expect(registry.resources('alice@example.com')).to.deep.equal([desk]);
    expect(registry.unbind(desk)).to.equal(true);
    expect(registry.hasResources(parseJID('alice@example.com'))).to.equal(false);
    expect(registry.resources('alice@example.com')).to.deep.equal([]);
    expect(registry.size).to.equal(0);
  });

  it('replaces the session on a taken resource, and leaves the new one bound when the old goes', () => {
    const registry = new SessionRegistry('replace', 10);
    const old = session('alice@example.com/phone');
    const fresh = session('alice@example.com/phone');
    registry.bind(old);
    expect(registry.bind(fresh)).to.deep.equal({ ok: true, replaced: old });
    expect(registry.unbind(old)).to.equal(false);
    expect(registry.get(parseJID('alice@example.com/phone'))).to.equal(fresh);
    expect(registry.size).to.equal(1);

    const laptop = session('alice@example.com/laptop');
    const newLaptop = session('alice@example.com/laptop');
    registry.bind(laptop);
    expect(registry.bind(newLaptop)).to.deep.equal({ ok: true, replaced: laptop });
    expect(registry.unbind(laptop)).to.equal(false);
    expect(names(registry.all())).to.deep.equal(['alice@example.com/laptop', 'alice@example.com/phone']);
    expect(registry.size).to.equal(2);
  });

  it('refuses a taken resource under the refuse policy, and resources beyond the limit', () => {
    const registry = new SessionRegistry('refuse', 2);
    registry.bind(session('alice@example.com/a'));
    expect(registry.bind(session('alice@example.com/a'))).to.deep.equal({ ok: false, reason: 'conflict' });
    registry.bind(session('alice@example.com/b'));
    expect(registry.bind(session('alice@example.com/c'))).to.deep.equal({
      ok: false,
      reason: 'too-many-resources',
    });
    expect(registry.bind(session('bob@example.com/a')).ok).to.equal(true);
    expect(names(registry.all())).to.deep.equal([
      'alice@example.com/a',
      'alice@example.com/b',
      'bob@example.com/a',
    ]);
  });
});
