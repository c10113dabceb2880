// XEP-0049 §2.3: reserved namespaces, and elements that store nothing.

import { expect } from 'chai';
import { parseStored } from '../../src/xml/fragment.js';
import { isEmptyElement, isReservedNamespace } from './rules.js';

describe('XEP-0049 reserved namespaces', () => {
  const cases: Array<[string, boolean]> = [
    ['jabber:client', true],
    ['jabber:server', true],
    ['jabber:iq:private', true],
    ['jabber:iq:roster', true],
    ['jabber:x:data', true],
    ['http://jabber.org/protocol/disco#info', true],
    ['vcard-temp', true],
    ['storage:bookmarks', false],
    ['storage:rosternotes', false],
    ['exodus:prefs', false],
    ['vcard-temp:x:update', false],
    ['https://jabber.org/', false],
    ['urn:xmpp:bookmarks:1', false],
    ['jabber', false],
  ];
  for (const [ns, reserved] of cases) {
    it(`${ns} is ${reserved ? '' : 'not '}reserved`, () => {
      expect(isReservedNamespace(ns)).to.equal(reserved);
    });
  }
});

describe('XEP-0049 empty elements', () => {
  const cases: Array<[string, boolean]> = [
    ["<storage xmlns='storage:bookmarks'/>", true],
    ["<p:storage xmlns:p='storage:bookmarks'/>", true],
    ["<storage xmlns='storage:bookmarks'></storage>", true],
    ["<storage xmlns='storage:bookmarks'> </storage>", false],
    ["<storage xmlns='storage:bookmarks' version='2'/>", false],
    ["<storage xmlns='storage:bookmarks'><conference jid='a@b'/></storage>", false],
  ];
  for (const [xml, empty] of cases) {
    it(`${xml} is ${empty ? '' : 'not '}empty`, () => {
      expect(isEmptyElement(parseStored(xml))).to.equal(empty);
    });
  }
});
