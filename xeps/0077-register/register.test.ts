// XEP-0077 §3.2, §3.3: reading a register set; the password policy; the registration throttle.

import { expect } from 'chai';
import { StanzaError } from '../../src/core/errors.js';
import { parseStored } from '../../src/xml/fragment.js';
import { passwordProblem, type RegisterSet, readRegisterSet } from './request.js';
import { RegistrationThrottle } from './throttle.js';

const q = (inner: string) => parseStored(`<query xmlns='jabber:iq:register'>${inner}</query>`);

describe('XEP-0077 register set', () => {
  const cases: Array<[string, string, RegisterSet | string]> = [
    ['remove', '<remove/>', { kind: 'remove' }],
    ['remove with another element (§3.2: bad-request)', '<remove/><username>bill</username>', 'bad-request'],
    [
      'username and password',
      '<username>bill</username><password>Calliope</password>',
      { kind: 'credentials', username: 'bill', password: 'Calliope' },
    ],
    [
      'the username trimmed, the password kept as sent',
      '<username> bill\n</username><password> two words </password>',
      { kind: 'credentials', username: 'bill', password: ' two words ' },
    ],
    [
      'an empty password element',
      '<username>bill</username><password/>',
      { kind: 'credentials', username: 'bill', password: '' },
    ],
    ['nothing', '', { kind: 'credentials', username: undefined, password: undefined }],
    [
      'fields in another namespace are not the register fields',
      "<username xmlns='urn:other'>bill</username><password>x</password>",
      { kind: 'credentials', username: undefined, password: 'x' },
    ],
  ];
  for (const [what, inner, expected] of cases) {
    it(what, () => {
      if (typeof expected === 'string') {
        expect(() => readRegisterSet(q(inner)))
          .to.throw(StanzaError)
          .with.property('condition', expected);
      } else {
        expect(readRegisterSet(q(inner))).to.deep.equal(expected);
      }
    });
  }
});

describe('XEP-0077 password policy', () => {
  const cases: Array<[string, number, boolean]> = [
    ['', 1, false],
    ['a', 1, true],
    ['1234567', 8, false],
    ['12345678', 8, true],
    // Four characters outside the BMP are eight UTF-16 units, and still four characters.
    ['\u{1F426}\u{1F426}\u{1F426}\u{1F426}', 8, false],
    ['\u{1F426}\u{1F426}\u{1F426}\u{1F426}', 4, true],
  ];
  for (const [password, min, ok] of cases) {
    it(`${JSON.stringify(password)} with at least ${min}: ${ok ? 'accepted' : 'refused'}`, () => {
      const problem = passwordProblem(password, min);
      if (ok) expect(problem).to.equal(undefined);
      else expect(problem).to.equal(`the password must have at least ${min} characters`);
    });
  }
});

describe('registration throttle', () => {
  it('lets an address register once per interval, others meanwhile', () => {
    let now = 1_000;
    const throttle = new RegistrationThrottle(600_000, () => now);
    expect(throttle.claim('192.0.2.1')).to.equal(1_000);
    expect(throttle.claim('192.0.2.1')).to.equal(undefined);
    expect(throttle.claim('192.0.2.2')).to.equal(1_000);
    now += 599_999;
    expect(throttle.claim('192.0.2.1')).to.equal(undefined);
    now += 1;
    expect(throttle.claim('192.0.2.1')).to.equal(601_000);
    // The other address's claim expired too, and was dropped on the way.
    expect(throttle.size).to.equal(1);
  });

  it('gives a failed registration its turn back', () => {
    const throttle = new RegistrationThrottle(600_000, () => 5);
    const claim = throttle.claim('2001:db8::1')!;
    throttle.release('2001:db8::1', claim);
    expect(throttle.claim('2001:db8::1')).to.equal(5);
  });

  it('does not limit with an interval of 0', () => {
    const throttle = new RegistrationThrottle(0, () => 5);
    expect(throttle.claim('192.0.2.1')).to.equal(0);
    expect(throttle.claim('192.0.2.1')).to.equal(0);
    expect(throttle.size).to.equal(0);
  });
});
