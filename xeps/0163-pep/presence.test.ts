// The presence a PEP service tracks (XEP-0163 §4.3): initial presence, a caps change, the
// same presence again (§4.3.2: no new notification), unavailable, a closed session, a deleted
// account — and entries replaced, never edited, so that stale work can tell.

import { expect } from 'chai';
import { PresenceTracker, type TrackedResource } from './presence.js';

const jids = (t: PresenceTracker, account: string) => [...t.resources(account)].map((r) => r.jid);

describe('XEP-0163 presence tracking', () => {
  it('tells initial presence, a caps change, and the same presence apart', () => {
    const t = new PresenceTracker();
    const first = t.available('alice@x', 'bob@y/phone', 'caps-1');
    expect(first.kind).to.equal('initial');
    expect(t.available('alice@x', 'bob@y/phone', 'caps-1')).to.deep.equal({ kind: 'same' });
    const changed = t.available('alice@x', 'bob@y/phone', 'caps-2');
    expect(changed.kind).to.equal('caps-changed');
    if (changed.kind !== 'caps-changed' || first.kind !== 'initial') return;
    expect(changed.previous).to.equal(first.entry);
    expect(t.isCurrent('alice@x', first.entry)).to.equal(false);
    expect(t.isCurrent('alice@x', changed.entry)).to.equal(true);
  });

  it('keeps each account’s view apart', () => {
    const t = new PresenceTracker();
    t.available('alice@x', 'bob@y/phone', '');
    t.available('carol@x', 'bob@y/phone', '');
    t.available('alice@x', 'bob@y/desk', '');
    t.unavailable('alice@x', 'bob@y/phone');
    expect(jids(t, 'alice@x')).to.deep.equal(['bob@y/desk']);
    expect(jids(t, 'carol@x')).to.deep.equal(['bob@y/phone']);
  });

  it('forgets every resource of a bare JID that goes unavailable', () => {
    const t = new PresenceTracker();
    t.available('alice@x', 'bob@y/phone', '');
    t.available('alice@x', 'bob@y/desk', '');
    t.available('alice@x', 'bobby@y/desk', '');
    t.unavailable('alice@x', 'bob@y');
    expect(jids(t, 'alice@x')).to.deep.equal(['bobby@y/desk']);
  });

  it('forgets a resource everywhere when its session closes, and an account’s whole view', () => {
    const t = new PresenceTracker();
    t.available('alice@x', 'bob@y/phone', '');
    t.available('carol@x', 'bob@y/phone', '');
    t.available('carol@x', 'dave@y/pc', '');
    t.gone('bob@y/phone');
    expect(jids(t, 'alice@x')).to.deep.equal([]);
    expect(jids(t, 'carol@x')).to.deep.equal(['dave@y/pc']);
    expect(t.size).to.equal(1);
    t.forgetAccount('carol@x');
    expect(t.size).to.equal(0);
    // Coming back is initial presence again.
    expect(t.available('alice@x', 'bob@y/phone', '').kind).to.equal('initial');
  });

  it('tracks no more than its bound per account', () => {
    const t = new PresenceTracker(2);
    t.available('alice@x', 'a@y/1', '');
    t.available('alice@x', 'b@y/1', '');
    expect(t.available('alice@x', 'c@y/1', '')).to.deep.equal({ kind: 'same' });
    expect(jids(t, 'alice@x')).to.deep.equal(['a@y/1', 'b@y/1']);
  });

  it('keeps the interests set on the current entry, and the old ones until new caps are resolved', () => {
    const t = new PresenceTracker();
    const arrival = t.available('alice@x', 'bob@y/phone', 'c');
    const entry = (arrival as { entry: TrackedResource }).entry;
    expect(entry.interests).to.equal(undefined);
    entry.interests = new Set(['urn:n']);
    expect([...t.resources('alice@x')][0]!.interests).to.deep.equal(new Set(['urn:n']));
    const changed = t.available('alice@x', 'bob@y/phone', 'd') as { entry: TrackedResource };
    expect(changed.entry.interests).to.deep.equal(new Set(['urn:n']));
  });
});
