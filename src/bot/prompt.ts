// The messages sent to the model for one answer: the system prompt, then the remembered history.
// Strict chat templates (Mistral's, Gemma's) insist that turns alternate user/assistant and start
// with the user, so consecutive lines of one role are merged and a leading answer is dropped. In
// rooms every line is prefixed with its author's nickname (never an address).

import type { ChatMessage } from './backends/types.js';
import type { StoredMessage } from './store.js';

export function buildPrompt(
  system: string,
  history: readonly StoredMessage[],
  upToId?: number,
): ChatMessage[] {
  const out: ChatMessage[] = [];
  if (system !== '') out.push({ role: 'system', content: system });
  let role: 'user' | 'assistant' | undefined;
  let content = '';
  for (const m of history) {
    if (upToId !== undefined && m.id > upToId) break;
    if (role === undefined && m.role === 'assistant') continue;
    const text = m.nick !== undefined && m.role === 'user' ? `${m.nick}: ${m.content}` : m.content;
    if (m.role === role) content += '\n' + text;
    else {
      if (role !== undefined) out.push({ role, content });
      role = m.role;
      content = text;
    }
  }
  if (role !== undefined) out.push({ role, content });
  return out;
}

/** What the model is told about the room it is in, after the configured instructions. */
export function roomInstructions(system: string, nick: string): string {
  const note =
    `You are "${nick}" in a group chat. Each message you see starts with its author's nickname and a colon; ` +
    'answer the last message addressed to you, without repeating your own nickname.';
  return system === '' ? note : `${system}\n\n${note}`;
}
