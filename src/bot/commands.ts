// The assistant's commands: typed as /words in a chat (XEP-0393 leaves a leading '/' alone), and
// offered as XEP-0050 ad-hoc commands (adhoc.ts) for clients with a commands menu. Only these
// words are commands; any other text starting with '/' is a question like any other.

export const COMMAND_NAMES = [
  'help',
  'reset',
  'retry',
  'stop',
  'model',
  'system',
  'usage',
  'forget',
] as const;

export type CommandName = (typeof COMMAND_NAMES)[number];

export interface CommandInfo {
  readonly name: CommandName;
  /** The argument, as shown in /help. */
  readonly usage: string;
  /** One line for /help and the ad-hoc command list. */
  readonly summary: string;
}

export const COMMANDS: readonly CommandInfo[] = [
  { name: 'help', usage: '', summary: 'What I can do, and these commands' },
  { name: 'reset', usage: '', summary: 'Start a new conversation (settings stay)' },
  { name: 'retry', usage: '', summary: 'Answer the last question again' },
  { name: 'stop', usage: '', summary: 'Stop the answer being written' },
  { name: 'model', usage: ' [name]', summary: 'Show or choose the model' },
  {
    name: 'system',
    usage: ' [text]',
    summary: 'Show or set my instructions ("/system default" restores them)',
  },
  { name: 'usage', usage: '', summary: "Today's token use and limit" },
  { name: 'forget', usage: '', summary: 'Erase everything I keep about this conversation' },
];

export interface ParsedCommand {
  readonly name: CommandName;
  /** The rest of the text, trimmed ('' when none). */
  readonly arg: string;
}

const NAMES: ReadonlySet<string> = new Set(COMMAND_NAMES);

/** A command, or undefined when the text is not one (and so is a question). */
export function parseCommand(text: string): ParsedCommand | undefined {
  if (text.charCodeAt(0) !== 0x2f) return undefined;
  let end = 1;
  while (end < text.length && !isSpace(text.charCodeAt(end))) end++;
  const word = text.slice(1, end).toLowerCase();
  if (!NAMES.has(word)) return undefined;
  return { name: word as CommandName, arg: text.slice(end).trim() };
}

export function isCommandName(name: string): name is CommandName {
  return NAMES.has(name);
}

export function helpText(inRoom: boolean, nick: string): string {
  const intro = inRoom
    ? `I answer in this room when addressed: start a message with "${nick}:", mention me, or reply to one of my messages.`
    : 'Ask me anything; I remember our conversation for a while.';
  const lines = COMMANDS.map((c) => `/${c.name}${c.usage} — ${c.summary}`);
  return `${intro}\n\n${lines.join('\n')}`;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}
