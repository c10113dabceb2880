import { expect } from 'chai';
import { parseH, StreamManagement } from '../../src/streams/sm.js';
import { x } from '../../src/xml/element.js';

const stanza = (n: number) => x('message', { id: `m${n}` });

describe('XEP-0198 counters and queue', () => {
  it('counts handled inbound stanzas for h', () => {
    const sm = new StreamManagement(undefined);
    expect(sm.handled).to.equal(0);
    sm.countInbound();
    sm.countInbound();
    expect(sm.handled).to.equal(2);
  });

  it('drops acknowledged stanzas and keeps the rest in order', () => {
    const sm = new StreamManagement('id');
    for (let i = 1; i <= 5; i++) sm.countOutbound(stanza(i));
    expect(sm.acknowledge(2)).to.deep.equal({ ok: true, acknowledged: 2 });
    expect(sm.pendingStanzas().map((u) => u.stanza.attrs.id)).to.deep.equal(['m3', 'm4', 'm5']);
    // Acknowledging the same h again acknowledges nothing new.
    expect(sm.acknowledge(2)).to.deep.equal({ ok: true, acknowledged: 0 });
    expect(sm.acknowledge(5)).to.deep.equal({ ok: true, acknowledged: 3 });
    expect(sm.pending).to.equal(0);
  });

  it('refuses an h above what was sent (§6), and one below an earlier ack', () => {
    const sm = new StreamManagement('id');
    for (let i = 1; i <= 3; i++) sm.countOutbound(stanza(i));
    expect(sm.acknowledge(4)).to.deep.equal({ ok: false, h: 4, sendCount: 3 });
    expect(sm.acknowledge(2).ok).to.equal(true);
    expect(sm.acknowledge(1).ok).to.equal(false);
    expect(sm.pending).to.equal(1);
  });

  it('wraps both counters from 2^32-1 to 0 (§4)', () => {
    const sm = new StreamManagement('id');
    // Reach the edge without sending four billion stanzas: set the private counters.
    (sm as unknown as { outbound: number; inbound: number }).outbound = 0xffff_fffe;
    (sm as unknown as { inbound: number }).inbound = 0xffff_ffff;
    sm.countInbound();
    expect(sm.handled).to.equal(0);
    for (let i = 1; i <= 4; i++) sm.countOutbound(stanza(i)); // numbered 2^32-1, 0, 1, 2
    expect(sm.sent).to.equal(2);
    expect(sm.acknowledge(0xffff_ffff)).to.deep.equal({ ok: true, acknowledged: 1 });
    expect(sm.acknowledge(1)).to.deep.equal({ ok: true, acknowledged: 2 });
    expect(sm.pendingStanzas().map((u) => u.stanza.attrs.id)).to.deep.equal(['m4']);
    expect(sm.acknowledge(3).ok).to.equal(false);
  });

  it('drains what is left when the session ends', () => {
    const sm = new StreamManagement('id');
    sm.countOutbound(stanza(1));
    sm.countOutbound(stanza(2));
    const left = sm.drain();
    expect(left.map((u) => u.stanza.attrs.id)).to.deep.equal(['m1', 'm2']);
    expect(left[0]!.sentAt).to.be.instanceOf(Date);
    expect(sm.pending).to.equal(0);
  });

  for (const [input, expected] of [
    ['0', 0],
    ['4294967295', 4294967295],
    ['4294967296', undefined],
    ['-1', undefined],
    ['1.5', undefined],
    ['', undefined],
    [undefined, undefined],
    ['12345678901', undefined],
  ] as const) {
    it(`parses h=${JSON.stringify(input)} as ${expected}`, () => {
      expect(parseH(input)).to.equal(expected);
    });
  }
});
