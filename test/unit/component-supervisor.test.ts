// The assistant's supervisor (src/bot/supervisor.ts) with stand-in children: one that dies at
// once is started again and again; stop() ends the restarts; a child that ignores SIGTERM is
// killed. The real assistant under supervision is in test/integration/component-bot.test.ts.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { BotSupervisor } from '../../src/bot/supervisor.js';
import { silentLogger } from '../../src/log.js';
import { eventually } from '../helpers/client.js';

describe('components: the assistant’s supervisor', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'warbler-supervisor-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function script(name: string, body: string): string {
    const file = join(dir, name);
    writeFileSync(file, body);
    return file;
  }

  it('starts a child that dies again and again, and stops restarting it once stopped', async () => {
    const supervisor = new BotSupervisor({
      module: script('dies.mjs', 'process.exit(3);\n'),
      args: [],
      env: process.env,
      log: silentLogger,
      initialBackoffMs: 5,
      maxBackoffMs: 20,
    });
    supervisor.start();
    await eventually(() => supervisor.starts >= 3, 'three starts', 10_000);
    await supervisor.stop();
    const starts = supervisor.starts;
    // A restart already scheduled runs start(), which a stopped supervisor refuses.
    supervisor.start();
    expect(supervisor.starts).to.equal(starts);
    expect(supervisor.pid).to.equal(undefined);
  });

  it('passes the environment to the child, and SIGTERM stops a child that honours it', async () => {
    const out = join(dir, 'env.txt');
    const supervisor = new BotSupervisor({
      module: script(
        'env.mjs',
        `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(out)}, process.env.WARBLER_TEST_VALUE ?? '');\nsetInterval(() => {}, 1000);\n`,
      ),
      args: [],
      env: { ...process.env, WARBLER_TEST_VALUE: 'from the supervisor' },
      log: silentLogger,
    });
    supervisor.start();
    await eventually(() => existsSync(out) && readFileSync(out, 'utf8') !== '', 'the child wrote', 10_000);
    expect(readFileSync(out, 'utf8')).to.equal('from the supervisor');
    const pid = supervisor.pid!;
    await supervisor.stop();
    expect(() => process.kill(pid, 0)).to.throw(Error, 'ESRCH');
    expect(supervisor.starts).to.equal(1);
  });

  it('kills a child that ignores SIGTERM once the stop timeout has passed', async () => {
    const ready = join(dir, 'ready.txt');
    const supervisor = new BotSupervisor({
      module: script(
        'stubborn.mjs',
        `import { writeFileSync } from 'node:fs';\nprocess.on('SIGTERM', () => {});\nwriteFileSync(${JSON.stringify(ready)}, 'yes');\nsetInterval(() => {}, 1000);\n`,
      ),
      args: [],
      env: process.env,
      log: silentLogger,
      stopTimeoutMs: 200,
    });
    supervisor.start();
    await eventually(() => existsSync(ready), 'the child installed its handler', 10_000);
    const pid = supervisor.pid!;
    await supervisor.stop();
    expect(() => process.kill(pid, 0)).to.throw(Error, 'ESRCH');
  });
});
