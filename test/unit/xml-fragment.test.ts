// Stored XML: an element serialized on its own keeps the namespaces it inherited, and parses
// back to the same element.

import { expect } from 'chai';
import { Element } from '../../src/xml/element.js';
import { parseStored, StoredXmlError, serializeDetached } from '../../src/xml/fragment.js';

describe('stored XML fragments', () => {
  it('serializes an element that declares its own namespace as it is', () => {
    const iq = parseStored(
      "<iq type='set'><query xmlns='jabber:iq:private'><prefs xmlns='urn:example'><a>1</a></prefs></query></iq>",
    );
    const prefs = iq.getChild('query')!.getChild('prefs')!;
    expect(serializeDetached(prefs)).to.equal('<prefs xmlns="urn:example"><a>1</a></prefs>');
  });

  it('copies the declarations an element inherits onto it', () => {
    const iq = parseStored(
      "<iq xmlns:e='urn:example' xmlns:f='urn:f'><query xmlns='jabber:iq:private' xmlns:f='urn:inner'>" +
        '<e:prefs><f:a/><b/></e:prefs></query></iq>',
    );
    const prefs = iq.getChild('query')!.elements[0]!;
    const xml = serializeDetached(prefs);
    expect(xml).to.equal(
      '<e:prefs xmlns="jabber:iq:private" xmlns:f="urn:inner" xmlns:e="urn:example"><f:a/><b/></e:prefs>',
    );
    const back = parseStored(xml);
    expect(back.getNS()).to.equal('urn:example');
    expect(back.elements.map((el) => el.getNS())).to.deep.equal(['urn:inner', 'jabber:iq:private']);
    // The original is untouched and still in its tree.
    expect(prefs.attrs).to.deep.equal({});
    expect(prefs.elements[0]!.parent).to.equal(prefs);
  });

  it('copies only the declarations the element uses', () => {
    const iq = parseStored(
      "<iq xmlns:unused='urn:unused'><query xmlns='jabber:iq:private' xmlns:n='urn:notes' xmlns:a='urn:attr'>" +
        "<n:notes a:kind='x' xml:lang='en'><n:note>hi</n:note></n:notes></query></iq>",
    );
    const notes = iq.getChild('query')!.elements[0]!;
    expect(serializeDetached(notes)).to.equal(
      '<n:notes xmlns:n="urn:notes" xmlns:a="urn:attr" a:kind="x" xml:lang="en"><n:note>hi</n:note></n:notes>',
    );
  });

  it('round-trips text, escapes and non-ASCII', () => {
    const el = new Element('note', { xmlns: 'urn:x', title: 'a "b" & <c>' }).t('x < y & ünïcödé 🐦');
    const back = parseStored(serializeDetached(el));
    expect(back.toString()).to.equal(el.toString());
    expect(back.text).to.equal('x < y & ünïcödé 🐦');
  });

  const bad: Array<[string, string]> = [
    ['not well-formed', '<a><b></a>'],
    ['two elements', '<a/><b/>'],
    ['no element', ''],
    ['text only', 'hello'],
  ];
  for (const [what, xml] of bad) {
    it(`refuses ${what}`, () => {
      expect(() => parseStored(xml)).to.throw(StoredXmlError);
    });
  }
});
