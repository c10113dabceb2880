// Structured logging. One line per event, JSON or human-readable text, written
// synchronously to stderr so that nothing is lost when the process dies. Callers pass
// fields, never preformatted strings, and never passwords or message bodies: at info level
// a log line says who and what, not what was said.

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogFormat = 'text' | 'json';
export type LogFields = Record<string, unknown>;

const LEVELS: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, silent: 100 };

export interface Logger {
  readonly level: LogLevel;
  isEnabled(level: LogLevel): boolean;
  trace(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds these fields to every line (e.g. the module or session). */
  child(bindings: LogFields): Logger;
}

export type LogSink = (line: string) => void;

const stderrSink: LogSink = (line) => {
  process.stderr.write(line + '\n');
};

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  sink?: LogSink;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return new FieldLogger(options.level ?? 'info', options.format ?? 'text', options.sink ?? stderrSink, {});
}

class FieldLogger implements Logger {
  private readonly threshold: number;

  constructor(
    readonly level: LogLevel,
    private readonly format: LogFormat,
    private readonly sink: LogSink,
    private readonly bindings: LogFields,
    /**
     * A child keeps its own bindings and its parent's apart and merges them when it writes:
     * children are made per session and per event, and most never write a line.
     */
    private readonly parent?: FieldLogger,
  ) {
    this.threshold = parent ? parent.threshold : LEVELS[level];
  }

  isEnabled(level: LogLevel): boolean {
    return LEVELS[level] >= this.threshold;
  }

  trace(msg: string, fields?: LogFields): void {
    if (this.threshold <= 10) this.write('trace', msg, fields);
  }
  debug(msg: string, fields?: LogFields): void {
    if (this.threshold <= 20) this.write('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    if (this.threshold <= 30) this.write('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    if (this.threshold <= 40) this.write('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    if (this.threshold <= 50) this.write('error', msg, fields);
  }

  child(bindings: LogFields): Logger {
    return new FieldLogger(this.level, this.format, this.sink, bindings, this);
  }

  /** The bindings of this logger and its ancestors, outermost first, then `fields`. */
  private fields(fields: LogFields | undefined): LogFields {
    if (!this.parent && !fields) return this.bindings;
    const chain: LogFields[] = [];
    for (let logger: FieldLogger | undefined = this; logger; logger = logger.parent)
      chain.push(logger.bindings);
    let all: LogFields = {};
    for (let i = chain.length - 1; i >= 0; i--) all = { ...all, ...chain[i] };
    return fields ? { ...all, ...fields } : all;
  }

  private write(level: LogLevel, msg: string, fields: LogFields | undefined): void {
    const all = this.fields(fields);
    const time = new Date().toISOString();
    if (this.format === 'json') {
      this.sink(JSON.stringify({ time, level, msg, ...serializable(all) }));
      return;
    }
    let line = `${time} ${level.toUpperCase().padEnd(5)} ${msg}`;
    for (const [key, value] of Object.entries(all)) {
      if (value === undefined) continue;
      line += ` ${key}=${formatValue(value)}`;
    }
    this.sink(line);
  }
}

function serializable(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = value instanceof Error ? { message: value.message, stack: value.stack } : value;
  }
  return out;
}

function formatValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.stack ?? value.message);
  if (typeof value === 'string') return /^[\w.:/@+-]+$/.test(value) ? value : JSON.stringify(value);
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** A logger that discards everything, for tests and tools. */
export const silentLogger: Logger = createLogger({ level: 'silent' });
