// The [bot] section of the configuration: the AI assistant, a component that connects to an XMPP
// server over XEP-0114 and answers people with a language model. Declared with the config DSL,
// so that validation, the loaded type and the documented example all come from here.

import { bool, type ConfigOf, type ItemRule, int, path, section, str, strList } from '../config/schema.js';
import { tryParseJID } from '../jid.js';
import { parsePattern } from './allow.js';

const roomJid: ItemRule = {
  expected: 'the bare JID of a group chat room, such as lounge@conference.example.org',
  parse(value) {
    const parsed = tryParseJID(value);
    if (parsed === undefined || parsed.local === '' || parsed.resource !== '') return undefined;
    return parsed.bare;
  },
};

const allowPattern: ItemRule = {
  expected:
    'a JID or a domain pattern: user@example.org, example.org, *@example.org, *.example.org or *@*.example.org',
  parse(value) {
    return parsePattern(value)?.source;
  },
};

const backend = section({
  doc:
    'Where answers come from. kind "openai" is any server speaking the OpenAI-compatible chat-completions ' +
    'API with streaming (Ollama, llama.cpp server, vLLM, LM Studio, OpenAI, DeepSeek, Qwen); kind "gguf" ' +
    'runs a GGUF model file in-process with node-llama-cpp (install it with npm install node-llama-cpp@3.21.1).',
  fields: {
    kind: str({
      default: 'openai',
      choices: ['openai', 'gguf'],
      doc: 'openai: an HTTP server speaking the chat-completions API; gguf: a local model file.',
    }),
    base_url: str({
      default: 'http://127.0.0.1:11434/v1',
      doc:
        'For kind "openai": the API base URL, up to and including /v1 (Ollama: http://127.0.0.1:11434/v1, ' +
        'llama.cpp server: http://127.0.0.1:8080/v1).',
    }),
    model: str({
      default: 'llama3.2',
      doc: 'The model answers come from, as the backend names it (for kind "gguf", a label shown to users).',
    }),
    models: strList({
      default: [],
      unique: true,
      doc: 'Models people may switch to with /model; empty allows only model.',
    }),
    api_key_env: str({
      default: '',
      doc:
        'Name of the environment variable holding the API key, sent as a bearer token; empty sends none. ' +
        'The key itself never goes in this file.',
    }),
    extra_body: str({
      default: '',
      doc:
        'A JSON object merged into every request body, for options such as {"temperature": 0.3} or ' +
        '{"options": {"num_ctx": 8192}}; empty adds nothing.',
    }),
    max_answer_tokens: int({
      default: 1024,
      min: 16,
      max: 131072,
      unit: 'tokens',
      doc: 'The longest answer requested from the model (max_tokens).',
    }),
    gguf_file: path({
      example: '/var/lib/warbler/models/qwen2.5-1.5b-instruct-q4_k_m.gguf',
      doc: 'For kind "gguf": the model file.',
    }),
    threads: int({
      default: 0,
      min: 0,
      max: 256,
      doc:
        'For kind "gguf": CPU threads for inference; 0 uses half the CPUs (at least one). Always passed ' +
        "explicitly: node-llama-cpp's own default oversubscribes small machines.",
    }),
    context_size: int({
      default: 4096,
      min: 256,
      max: 1048576,
      unit: 'tokens',
      doc: 'For kind "gguf": the context window allocated for each conversation being answered.',
    }),
    gpu_layers: int({
      default: 0,
      min: 0,
      max: 1000,
      doc: 'For kind "gguf": model layers offloaded to a GPU; 0 runs on the CPU only.',
    }),
  },
  check(b) {
    if (b.kind === 'gguf' && b.gguf_file === undefined)
      return { at: ['gguf_file'], message: 'must be set when kind = "gguf" (the model file to run)' };
    if (b.kind === 'openai' && !/^https?:\/\/[^/]/.test(b.base_url))
      return {
        at: ['base_url'],
        message: `must be an http:// or https:// URL (got ${JSON.stringify(b.base_url)})`,
      };
    if (b.extra_body !== '') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(b.extra_body);
      } catch {
        parsed = undefined;
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        return { at: ['extra_body'], message: 'must be a JSON object such as {"temperature": 0.3}' };
    }
    return undefined;
  },
});

const timeouts = section({
  doc: 'Each failure ends the answer with one short error message.',
  fields: {
    connect: int({
      default: 10,
      min: 1,
      max: 600,
      unit: 'seconds',
      doc: 'Reaching the backend (TCP and TLS).',
    }),
    first_token: int({
      default: 120,
      min: 1,
      max: 3600,
      unit: 'seconds',
      doc: 'From the request to the first token (loading a model and reading a long prompt take a while).',
    }),
    silence: int({
      default: 60,
      min: 1,
      max: 3600,
      unit: 'seconds',
      doc: 'Between two chunks of an answer; keep-alive comments do not count as progress.',
    }),
    total: int({
      default: 600,
      min: 1,
      max: 86400,
      unit: 'seconds',
      doc: 'One whole answer.',
    }),
  },
});

const limits = section({
  doc: 'Fairness between people and rooms.',
  fields: {
    concurrency: int({
      default: 4,
      min: 1,
      max: 1024,
      doc: 'Answers generated at the same time, across everyone; the rest wait their turn.',
    }),
    queue: int({
      default: 5,
      min: 1,
      max: 100,
      doc: 'Questions one conversation may have waiting; more are refused with a message.',
    }),
    user_per_minute: int({
      default: 10,
      min: 1,
      max: 100000,
      doc: 'Questions one person may ask per minute.',
    }),
    room_per_minute: int({
      default: 20,
      min: 1,
      max: 100000,
      doc: 'Questions the bot answers in one room per minute.',
    }),
    user_daily_tokens: int({
      default: 200000,
      min: 0,
      max: 1000000000,
      unit: 'tokens',
      doc: 'Tokens (question and answer) one person may use per day (UTC); 0 means no limit.',
    }),
    room_daily_tokens: int({
      default: 500000,
      min: 0,
      max: 1000000000,
      unit: 'tokens',
      doc: 'Tokens one room may use per day (UTC); 0 means no limit.',
    }),
  },
});

const memory = section({
  doc: 'What the assistant remembers of a conversation.',
  fields: {
    persist: bool({
      default: true,
      doc: 'Keep conversations, settings and joined rooms in the database file, across restarts.',
    }),
    database: path({
      example: '/var/lib/warbler/bot.sqlite',
      doc: "The assistant's own SQLite file; by default bot.sqlite in data_dir.",
    }),
    max_messages: int({
      default: 40,
      min: 2,
      max: 10000,
      doc: 'Messages of history sent with each question (older ones are forgotten).',
    }),
    max_tokens: int({
      default: 6000,
      min: 100,
      max: 1048576,
      unit: 'tokens',
      doc: 'The most history, estimated in tokens, sent with each question.',
    }),
    idle_expiry: int({
      default: 86400,
      min: 0,
      max: 31536000,
      unit: 'seconds',
      doc: 'A conversation idle this long starts afresh (its history is erased); 0 keeps it forever.',
    }),
  },
});

const rooms = section({
  doc: 'Group chats (XEP-0045).',
  fields: {
    join: strList({
      default: [],
      unique: true,
      item: roomJid,
      doc: 'Rooms to join at start.',
    }),
    nick: str({ default: 'assistant', doc: 'The nickname used in rooms.' }),
    accept_invites: bool({
      default: true,
      doc: 'Join rooms an allowed user invites the assistant to, and rejoin them after a restart.',
    }),
    context_lines: int({
      default: 20,
      min: 0,
      max: 1000,
      doc: 'Recent room messages (with nicknames, never addresses) given to the model as context.',
    }),
    max_bot_turns: int({
      default: 5,
      min: 1,
      max: 1000,
      doc:
        'Answers in a row to the same occupant, with nobody else speaking, before the assistant pauses ' +
        '(stops two bots from talking to each other forever).',
    }),
    loop_pause: int({
      default: 30,
      min: 1,
      max: 86400,
      unit: 'seconds',
      doc:
        'A question this long after the last answer starts a new run of turns (people type slower than ' +
        'bots answer).',
    }),
  },
});

export const botSchema = section({
  doc:
    'The AI assistant: a component (XEP-0114) that answers people with a language model. ' +
    'Run it with `warbler bot`, or let `warbler start` run it when enabled.',
  fields: {
    enabled: bool({
      default: false,
      doc: 'Start and supervise the assistant with the server (warbler start).',
    }),
    component: str({
      default: '',
      doc: 'The component domain the assistant serves; empty means ai.<the first host>.',
    }),
    name: str({
      default: 'assistant',
      doc: 'The localpart of the JID people chat with: assistant@<component>.',
    }),
    server_host: str({ default: '127.0.0.1', doc: "The server's component listener address." }),
    server_port: int({
      default: 5347,
      min: 1,
      max: 65535,
      doc: "The server's component listener port (XEP-0114).",
    }),
    secret_file: path({
      example: '/etc/warbler/bot.secret',
      doc:
        'A file holding the component secret. Without it, the secret comes from the environment variable ' +
        'WARBLER_BOT_SECRET (warbler start generates one when it runs the assistant itself).',
    }),
    allow: strList({
      default: [],
      unique: true,
      item: allowPattern,
      doc: 'Who may use the assistant: JIDs and domain patterns; empty means the users of the server’s domain.',
    }),
    system_prompt: str({
      default: 'You are a helpful assistant in an XMPP chat. Answer concisely.',
      doc: 'Instructions given to the model before every conversation (people may change theirs with /system).',
    }),
    streaming: str({
      default: 'corrections',
      choices: ['corrections', 'final'],
      doc:
        'corrections: show the answer as it is written, as one message corrected at most every ' +
        'correction_interval (XEP-0308); final: send only the finished answer.',
    }),
    correction_interval: int({
      default: 1500,
      min: 200,
      max: 60000,
      unit: 'milliseconds',
      doc: 'The shortest time between two corrections of a streamed answer.',
    }),
    max_message_chars: int({
      default: 4000,
      min: 200,
      max: 100000,
      unit: 'characters',
      doc: 'Longer answers are split into several messages.',
    }),
    backend,
    timeouts,
    limits,
    memory,
    rooms,
  },
  check(bot) {
    if (bot.component !== '') {
      const domain = tryParseJID(bot.component);
      if (domain === undefined || domain.full !== bot.component.toLowerCase() || domain.local !== '')
        return {
          at: ['component'],
          message: `must be a domain such as ai.example.org (got ${JSON.stringify(bot.component)})`,
        };
    }
    const assistant = tryParseJID(`${bot.name}@example.org`);
    if (assistant === undefined || assistant.local !== bot.name)
      return {
        at: ['name'],
        message: `must be a valid JID localpart in lower case (got ${JSON.stringify(bot.name)})`,
      };
    return undefined;
  },
});

export type BotConfig = ConfigOf<typeof botSchema>;
