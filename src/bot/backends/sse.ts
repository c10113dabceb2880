// Server-sent events, as the chat-completions API streams them.
//
// Reference: WHATWG HTML Living Standard §9.2 "Server-sent events", §9.2.6 "Interpreting an
// event stream": lines end with CRLF, LF or CR; a line starting with ':' is a comment (servers
// send them as keep-alives); 'data' lines accumulate, joined with LF; an empty line dispatches
// the event; a field name without a colon has an empty value; one space after the colon is
// dropped. The 'id' and 'retry' fields matter only to reconnecting browsers and are ignored.
//
// Fed decoded text (the caller decodes UTF-8 with a decoder that keeps split characters), in
// chunks cut anywhere.

export interface SseHandler {
  /** A complete event: its data lines joined with LF, and its type ('message' unless named). */
  event(data: string, type: string): void;
  /** A comment line (a keep-alive), without its ':'. */
  comment?(text: string): void;
}

/** A line longer than this is not an event stream a chat server sends. */
export const MAX_SSE_LINE = 1 << 20;

export class SseError extends Error {
  override name = 'SseError';
}

export class SseParser {
  /** The unfinished last line of the input so far. */
  private partial = '';
  /** The previous chunk ended with CR: a LF starting the next one belongs to it. */
  private afterCR = false;
  private data = '';
  private hasData = false;
  private type = '';

  constructor(private readonly handler: SseHandler) {}

  /** Throws SseError on a line over MAX_SSE_LINE. */
  write(chunk: string): void {
    let start = 0;
    const end = chunk.length;
    if (this.afterCR) {
      this.afterCR = false;
      if (end > 0 && chunk.charCodeAt(0) === 0x0a) start = 1;
    }
    while (start < end) {
      // The next line end: LF, or CR (optionally followed by LF).
      let i = start;
      for (; i < end; i++) {
        const c = chunk.charCodeAt(i);
        if (c === 0x0a || c === 0x0d) break;
      }
      if (i === end) {
        this.partial += chunk.slice(start);
        if (this.partial.length > MAX_SSE_LINE)
          throw new SseError(`an event stream line exceeds ${MAX_SSE_LINE} characters`);
        return;
      }
      const line = this.partial === '' ? chunk.slice(start, i) : this.partial + chunk.slice(start, i);
      this.partial = '';
      if (chunk.charCodeAt(i) === 0x0d) {
        if (i + 1 === end) this.afterCR = true;
        else if (chunk.charCodeAt(i + 1) === 0x0a) i++;
      }
      start = i + 1;
      this.line(line);
    }
  }

  /** The stream ended: an event without its final empty line is discarded, as the standard says. */
  end(): void {
    this.partial = '';
    this.data = '';
    this.hasData = false;
    this.type = '';
  }

  private line(line: string): void {
    if (line.length === 0) {
      if (this.hasData) {
        const data = this.data;
        const type = this.type === '' ? 'message' : this.type;
        this.data = '';
        this.hasData = false;
        this.type = '';
        this.handler.event(data, type);
      } else this.type = '';
      return;
    }
    const colon = line.indexOf(':');
    if (colon === 0) {
      this.handler.comment?.(line.slice(1));
      return;
    }
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = '';
    if (colon > 0)
      value = line.charCodeAt(colon + 1) === 0x20 ? line.slice(colon + 2) : line.slice(colon + 1);
    if (field === 'data') {
      if (this.hasData) this.data += '\n' + value;
      else {
        this.data = value;
        this.hasData = true;
      }
    } else if (field === 'event') this.type = value;
  }
}
