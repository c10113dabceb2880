// XEP-0317 hats, the pure part: a room's hats and who wears them, the commands over them step
// by step (form, then submission), who may run which, and the stored form read back.

import { expect } from 'chai';
import { StanzaError } from '../../src/core/errors.js';
import { NS } from '../../src/xml/ns.js';
import type { SubmittedForm } from '../../xeps/0045-muc/forms.js';
import { commandsFor, HAT_COMMANDS, hatsElement, RoomHats, runHatCommand } from '../../xeps/0045-muc/hats.js';

const HOST = 'http://schemas.example.com/hats#host';
const PRESENTER = 'http://schemas.example.com/hats#presenter';

function submitted(fields: Record<string, string>): SubmittedForm {
  return {
    type: 'submit',
    formType: NS.HATS_COMMANDS,
    fields: new Map(Object.entries(fields).map(([k, v]) => [k, [v]])),
  };
}

function condition(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (err) {
    if (err instanceof StanzaError) return err.condition;
    throw err;
  }
}

function roomWithHats(): RoomHats {
  const hats = new RoomHats();
  runHatCommand(
    hats,
    HAT_COMMANDS.create,
    submitted({ 'hats#title': 'Host', 'hats#uri': HOST, 'hats#hue': '327.255249' }),
  );
  runHatCommand(hats, HAT_COMMANDS.create, submitted({ 'hats#title': 'Presenter', 'hats#uri': PRESENTER }));
  return hats;
}

describe('MUC hats (XEP-0317)', () => {
  it('answers a command without a form with its form', () => {
    const outcome = runHatCommand(new RoomHats(), HAT_COMMANDS.assign, undefined);
    expect(outcome.status).to.equal('executing');
    const vars =
      outcome.status === 'executing' ? outcome.form.getChildren('field').map((f) => f.attrs.var) : [];
    expect(vars).to.deep.equal(['FORM_TYPE', 'hats#jid', 'hats#uri']);
  });

  it('creates, updates, assigns, removes and destroys, saying whose presence changed', () => {
    const hats = roomWithHats();
    expect(
      runHatCommand(
        hats,
        HAT_COMMANDS.assign,
        submitted({ 'hats#jid': 'harry@example.com/phone', 'hats#uri': HOST }),
      ),
    ).to.deep.include({ status: 'completed', changed: ['harry@example.com'] });
    runHatCommand(
      hats,
      HAT_COMMANDS.assign,
      submitted({ 'hats#jid': 'harry@example.com', 'hats#uri': PRESENTER }),
    );
    expect(hats.wornBy('harry@example.com').map((h) => h.title)).to.deep.equal(['Host', 'Presenter']);
    // Updating a hat changes the presence of whoever wears it.
    expect(
      runHatCommand(hats, HAT_COMMANDS.create, submitted({ 'hats#title': 'Hostess', 'hats#uri': HOST })),
    ).to.deep.include({ changed: ['harry@example.com'] });
    runHatCommand(
      hats,
      HAT_COMMANDS.unassign,
      submitted({ 'hats#jid': 'harry@example.com', 'hats#uri': PRESENTER }),
    );
    expect(hats.wornBy('harry@example.com').map((h) => h.title)).to.deep.equal(['Hostess']);
    expect(runHatCommand(hats, HAT_COMMANDS.destroy, submitted({ hat: HOST }))).to.deep.include({
      changed: ['harry@example.com'],
    });
    expect(hats.wornBy('harry@example.com')).to.deep.equal([]);
    expect([...hats.worn]).to.deep.equal([]);
  });

  it('refuses what cannot be done, with the condition that says why', () => {
    const hats = roomWithHats();
    const run = (node: string, fields: Record<string, string>) => () =>
      runHatCommand(hats, node, submitted(fields));
    expect(condition(run(HAT_COMMANDS.assign, { 'hats#jid': 'a@b', 'hats#uri': 'urn:none' }))).to.equal(
      'item-not-found',
    );
    expect(condition(run(HAT_COMMANDS.unassign, { 'hats#jid': 'a@b', 'hats#uri': HOST }))).to.equal(
      'item-not-found',
    );
    expect(condition(run(HAT_COMMANDS.destroy, { hat: 'urn:none' }))).to.equal('item-not-found');
    expect(condition(run(HAT_COMMANDS.assign, { 'hats#jid': '@bad', 'hats#uri': HOST }))).to.equal(
      'jid-malformed',
    );
    expect(condition(run(HAT_COMMANDS.create, { 'hats#uri': 'urn:x' }))).to.equal('bad-request');
    expect(
      condition(run(HAT_COMMANDS.create, { 'hats#title': 'T', 'hats#uri': 'urn:x', 'hats#hue': 'red' })),
    ).to.equal('bad-request');
    expect(condition(run(`${NS.HATS_COMMANDS}:nonsense`, {}))).to.equal('item-not-found');
  });

  it('hashes the list of hats: the same list the same hash, any change another (§2 hats#hash)', () => {
    const hats = roomWithHats();
    const before = hats.hash();
    expect(before).to.match(/^[0-9a-f]{40}$/);
    expect(roomWithHats().hash()).to.equal(before);
    // Who wears what is not part of the list.
    runHatCommand(
      hats,
      HAT_COMMANDS.assign,
      submitted({ 'hats#jid': 'harry@example.com', 'hats#uri': HOST }),
    );
    expect(hats.hash()).to.equal(before);
    runHatCommand(hats, HAT_COMMANDS.create, submitted({ 'hats#title': 'Hostess', 'hats#uri': HOST }));
    expect(hats.hash()).to.not.equal(before);
  });

  it('lets anyone who may see the room list, and only admins change', () => {
    expect(commandsFor(true, false)).to.deep.equal([HAT_COMMANDS.list, HAT_COMMANDS.listAssigned]);
    expect(commandsFor(false, false)).to.deep.equal([]);
    expect(commandsFor(false, true)).to.have.length(6);
  });

  it('shows the hats worn in presence, and survives being stored', () => {
    const hats = roomWithHats();
    runHatCommand(
      hats,
      HAT_COMMANDS.assign,
      submitted({ 'hats#jid': 'harry@example.com', 'hats#uri': HOST }),
    );
    const back = RoomHats.parse(hats.serialize());
    expect(hatsElement(back.wornBy('harry@example.com')).toString()).to.equal(
      `<hats xmlns="urn:xmpp:hats:0"><hat uri="${HOST}" title="Host" hue="327.255249"/></hats>`,
    );
    expect(RoomHats.parse('not json').empty).to.equal(true);
  });
});
