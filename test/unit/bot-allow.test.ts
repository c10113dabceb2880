// Who may use the assistant: patterns and matching.

import { expect } from 'chai';
import { AllowList, parsePattern } from '../../src/bot/allow.js';
import { parseJID } from '../../src/jid.js';

describe('allow list patterns', () => {
  const valid: ReadonlyArray<[string, string, string]> = [
    ['Alice@Example.ORG', 'account', 'alice@example.org'],
    ['example.org', 'domain', 'example.org'],
    ['*@Example.org', 'domain', 'example.org'],
    ['*.example.org', 'subdomains', '*.example.org'],
    ['*@*.example.org', 'subdomains', '*.example.org'],
    ['*', 'anyone', '*'],
  ];
  for (const [input, kind, source] of valid)
    it(`${input} → ${kind} ${source}`, () => {
      const p = parsePattern(input)!;
      expect([p.kind, p.source]).to.deep.equal([kind, source]);
    });

  for (const input of ['', 'alice@', 'a@b/c', 'x@*.example.org', 'ex*ample.org', 'a@b@c', '**'])
    it(`refuses ${JSON.stringify(input)}`, () => {
      expect(parsePattern(input)).to.equal(undefined);
    });
});

describe('allow list', () => {
  const list = new AllowList(['alice@example.org', 'friends.net', '*.corp.example'], 'localhost');
  const rows: ReadonlyArray<[string, boolean]> = [
    ['alice@example.org/phone', true],
    ['bob@example.org', false],
    ['anyone@friends.net', true],
    ['someone@eu.corp.example', true],
    ['someone@corp.example', false],
    ['someone@notcorp.example', false],
    ['friends.net', false],
  ];
  for (const [address, allowed] of rows)
    it(`${address}: ${allowed ? 'allowed' : 'refused'}`, () => {
      expect(list.allows(parseJID(address))).to.equal(allowed);
    });

  it('allows the users of the default domain when the list is empty', () => {
    const local = new AllowList([], 'example.org');
    expect(local.allows(parseJID('x@example.org'))).to.equal(true);
    expect(local.allows(parseJID('x@elsewhere.org'))).to.equal(false);
  });

  it('"*" allows every user, never a bare domain', () => {
    const anyone = new AllowList(['*'], 'localhost');
    expect(anyone.allows(parseJID('x@anywhere.example'))).to.equal(true);
    expect(anyone.allows(parseJID('anywhere.example'))).to.equal(false);
  });
});
