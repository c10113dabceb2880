// Modern group chat with an independent client library: slixmpp (Python; Debian 12 ships 1.8.3
// as python3-slixmpp) enters a room as an owner beside an @xmpp/client user, reads the history
// and its own message's stanza-id and occupant id, pages through the room's archive with its
// own XEP-0313/XEP-0059 code, pings itself (XEP-0410) and retracts a message as a moderator in
// the XEP-0425 0.2 form it speaks; the @xmpp/client user sees the retraction in the current
// form and the archive keeps a tombstone. test/interop/slixmpp_muc.py drives slixmpp.

import { spawn, spawnSync } from 'node:child_process';
import { dirname, join as joinPath } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { TestClient } from '../helpers/client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  addUsers,
  createReservedRoom,
  forwardedOf,
  join,
  login,
  next,
  OCCUPANT_ID,
  queryArchive,
  roomName,
  say,
  stanzaIdBy,
  stopAll,
} from './muc-support.js';

/** The system interpreter: Debian's python3-slixmpp installs there, not in a pyenv or venv on PATH. */
const PYTHON = '/usr/bin/python3';
// From dist/test/integration/ back to the source tree's test/interop/.
const SCRIPT = joinPath(dirname(fileURLToPath(import.meta.url)), '../../../test/interop/slixmpp_muc.py');
const RETRACT = 'urn:xmpp:message-retract:1';

type Report = { event: string } & Record<string, unknown>;

function slixmppUnavailable(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import slixmpp.plugins.xep_0425'], { encoding: 'utf8' });
  if (probe.error) return `${PYTHON} cannot run (${probe.error.message})`;
  if (probe.status !== 0) return `${PYTHON} cannot import slixmpp (apt install python3-slixmpp)`;
  return undefined;
}

/** Runs the script to its end; resolves with its reports and exit code. */
function runSlixmpp(args: string[]): Promise<{ reports: Report[]; code: number | null; stderr: string }> {
  const child = spawn(PYTHON, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const reports: Report[] = [];
  let stderr = '';
  // slixmpp 1.8 prints a history message's <delay/> to stdout as it joins: only JSON lines are ours.
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.startsWith('{')) reports.push(JSON.parse(line) as Report);
    else stderr += `(stdout) ${line}\n`;
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ reports, code, stderr })));
}

describe('MUC with slixmpp: archive, occupant ids, self-ping and moderation', () => {
  let ts: TestServer;
  let alice: TestClient;
  let bob: TestClient;
  const clients: TestClient[] = [];
  const room = roomName('slix');

  before(async function () {
    const unavailable = slixmppUnavailable();
    if (unavailable) {
      console.warn(`      skipped: ${unavailable}`);
      this.skip();
    }
    ts = await startTestServer();
    await addUsers(ts);
    alice = await login(ts, 'alice');
    bob = await login(ts, 'bob');
    clients.push(alice, bob);
    await createReservedRoom(alice, room, 'Alice', {
      'muc#roomconfig_persistentroom': '1',
      'muc#roomconfig_roomowners': ['alice@localhost', 'carol@localhost'],
    });
    await join(bob, `${room}/Bob`);
    await say(bob, room, 'one');
    await say(bob, room, 'buy potions');
  });
  after(async () => {
    await stopAll(clients);
    await ts?.stop();
  });

  it('works with slixmpp 1.8 as a moderator', async () => {
    const spamId = stanzaIdBy((await queryArchive(alice, room)).results.map(forwardedOf)[1]!, room);
    const told = next(bob, (el) => el.name === 'message' && el.getChild('retract', RETRACT) !== undefined);
    const slixSeen = next(bob, (el) => el.name === 'presence' && el.attrs.from === `${room}/Slix`);
    const run = await runSlixmpp([
      '--jid',
      'carol@localhost/slix',
      '--password',
      'carol-secret',
      '--port',
      String(ts.port),
      '--room',
      room,
      '--nick',
      'Slix',
      '--spam',
      'buy potions',
    ]);
    const report = (event: string) => {
      const found = run.reports.find((r) => r.event === event);
      expect(found, `no "${event}" in ${JSON.stringify(run.reports)}\n${run.stderr}`).to.not.equal(undefined);
      return found!;
    };

    const joined = report('joined');
    expect(joined.history).to.deep.equal(['one', 'buy potions']);
    const occupantId = joined.occupant_id as string;
    expect(occupantId).to.match(/^[A-Za-z0-9_-]{43}$/);
    // The same id Bob sees on Carol's presence.
    expect((await slixSeen).getChild('occupant-id', OCCUPANT_ID)?.attrs.id).to.equal(occupantId);

    const said = report('said');
    expect(said).to.include({ by: room, occupant_id: occupantId });
    const archive = report('archive').messages as Array<{ id: string; body: string; from: string }>;
    expect(archive.map((m) => m.body)).to.deep.equal(['one', 'buy potions', 'hello from slixmpp']);
    expect(archive.map((m) => m.from)).to.deep.equal([`${room}/Bob`, `${room}/Bob`, `${room}/Slix`]);
    expect(archive[1]!.id).to.equal(spamId);
    expect(archive[2]!.id).to.equal(said.stanza_id);

    expect(report('pinged')).to.deep.equal({ event: 'pinged', ok: true });
    expect(report('moderated')).to.deep.equal({ event: 'moderated', id: spamId, by: `${room}/Slix` });
    expect(run.code, run.stderr).to.equal(0);

    // Bob's client, of the current version, gets the same retraction in its form.
    expect((await told).getChild('retract', RETRACT)?.attrs.id).to.equal(spamId);
    const stone = forwardedOf((await queryArchive(alice, room, { fields: { ids: [spamId!] } })).results[0]!);
    expect(stone.getChild('body')).to.equal(undefined);
    expect(stone.getChild('retracted', RETRACT)?.getChildText('reason')).to.equal('spam');
  });
});
