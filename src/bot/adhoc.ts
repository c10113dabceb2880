// XEP-0050 Ad-Hoc Commands: the assistant's commands for clients with a commands menu (Gajim,
// Cheogram, Psi). Each runs the same action as the typed /command, on the requester's one-to-one
// conversation.
//
// References: XEP-0050 §3.2 (listing commands as disco items of the commands node), §3.3
// (execution: a single-stage command completes at once with a <note/>; a two-stage one returns a
// XEP-0004 form with status 'executing' and a sessionid, then completes on submission), §3.4
// (action 'cancel'), §4.4 errors (bad-request with <bad-sessionid/>, item-not-found for an unknown
// node, forbidden for who may not run it).

import type { JID } from '../jid.js';
import { type Element, x } from '../xml/element.js';
import { type CommandName, isCommandName } from './commands.js';
import type { Asker, Engine } from './engine.js';
import { BOT_NS, NS } from './ns.js';
import { errorReply, iqResult } from './stanzas.js';

/** Commands that need a value first: a form, then the answer. */
const FORM_COMMANDS: ReadonlySet<CommandName> = new Set(['model', 'system']);
const SESSION_TTL_MS = 10 * 60_000;
const MAX_SESSIONS = 1000;

interface Session {
  readonly node: CommandName;
  readonly requester: string;
  readonly at: number;
}

export class AdHocCommands {
  private readonly sessions = new Map<string, Session>();
  private counter = 0;

  constructor(
    private readonly engine: Engine,
    /** The assistant's bare JID. */
    private readonly jid: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Answers an IQ set carrying <command/> from an allowed person. */
  execute(iq: Element, command: Element, from: JID): Element | undefined {
    const node = command.attr('node') ?? '';
    if (!isCommandName(node)) return errorReply(iq, 'cancel', 'item-not-found', `no command "${node}"`);
    const action = command.attr('action') ?? 'execute';
    const sessionId = command.attr('sessionid');
    const asker: Asker = { kind: 'user', jid: from.bare };
    const target = { from: this.jid, to: from.full, type: 'chat' as const };
    this.expire();

    if (sessionId !== undefined) {
      const session = this.sessions.get(sessionId);
      if (session === undefined || session.node !== node || session.requester !== from.full)
        return badSession(iq);
      this.sessions.delete(sessionId);
      if (action === 'cancel') return this.result(iq, node, sessionId, 'canceled');
      const form = command.getChild('x', NS.DATA_FORMS);
      if (form === undefined || form.attr('type') !== 'submit')
        return errorReply(iq, 'modify', 'bad-request', 'submit the form to complete the command');
      const value = fieldValue(form, node === 'model' ? 'model' : 'prompt');
      const arg = node === 'system' && value.trim() === '' ? 'default' : value.trim();
      return this.completed(iq, node, sessionId, this.engine.execute(asker, target, node, arg));
    }
    if (action === 'cancel') return this.result(iq, node, undefined, 'canceled');
    if (action !== 'execute' && action !== 'complete' && action !== 'next')
      return errorReply(iq, 'modify', 'bad-request', `unknown action "${action}"`);
    if (!FORM_COMMANDS.has(node)) {
      const reply = this.engine.execute(asker, target, node, '');
      return this.completed(iq, node, this.newSessionId(), reply ?? defaultNote(node));
    }
    if (this.sessions.size >= MAX_SESSIONS) return errorReply(iq, 'wait', 'resource-constraint');
    const id = this.newSessionId();
    this.sessions.set(id, { node, requester: from.full, at: this.now() });
    const current = this.engine.current(asker);
    const form =
      node === 'model'
        ? x(
            'x',
            { xmlns: NS.DATA_FORMS, type: 'form' },
            x('title', null, 'Choose the model'),
            x(
              'field',
              { var: 'model', type: 'list-single', label: 'Model' },
              x('value', null, current.model),
              current.models.map((m) => x('option', { label: m }, x('value', null, m))),
            ),
          )
        : x(
            'x',
            { xmlns: NS.DATA_FORMS, type: 'form' },
            x('title', null, 'My instructions'),
            x('instructions', null, 'Leave empty to restore the default instructions.'),
            x(
              'field',
              { var: 'prompt', type: 'text-multi', label: 'Instructions' },
              current.system.split('\n').map((line) => x('value', null, line)),
            ),
          );
    return iqResult(
      iq,
      x(
        'command',
        { xmlns: BOT_NS.COMMANDS, node, sessionid: id, status: 'executing' },
        x('actions', { execute: 'complete' }, x('complete')),
        form,
      ),
    );
  }

  private completed(iq: Element, node: string, sessionId: string, text: string | undefined): Element {
    const note = text ?? '';
    const type = note.startsWith('⚠') ? 'warn' : 'info';
    return iqResult(
      iq,
      x(
        'command',
        { xmlns: BOT_NS.COMMANDS, node, sessionid: sessionId, status: 'completed' },
        note === '' ? undefined : x('note', { type }, note),
      ),
    );
  }

  private result(iq: Element, node: string, sessionId: string | undefined, status: 'canceled'): Element {
    return iqResult(iq, x('command', { xmlns: BOT_NS.COMMANDS, node, sessionid: sessionId, status }));
  }

  private newSessionId(): string {
    return `${this.now().toString(36)}-${(++this.counter).toString(36)}`;
  }

  private expire(): void {
    const oldest = this.now() - SESSION_TTL_MS;
    for (const [id, s] of this.sessions) if (s.at < oldest) this.sessions.delete(id);
  }
}

function defaultNote(node: CommandName): string {
  switch (node) {
    case 'retry':
      return 'The new answer will arrive in our chat.';
    case 'stop':
      return 'Stopped.';
    default:
      return 'Done.';
  }
}

function badSession(iq: Element): Element | undefined {
  const reply = errorReply(iq, 'modify', 'bad-request');
  reply?.getChild('error')?.append(x('bad-sessionid', { xmlns: BOT_NS.COMMANDS }));
  return reply;
}

/** A submitted field's value: its <value/> elements joined by line ends ('' when absent). */
function fieldValue(form: Element, name: string): string {
  for (const field of form.getChildren('field')) {
    if (field.attr('var') !== name) continue;
    return field
      .getChildren('value')
      .map((v) => v.text)
      .join('\n');
  }
  return '';
}
