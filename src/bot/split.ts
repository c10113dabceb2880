// Very long answers go out as several messages: servers limit stanza sizes, and clients render
// a screenful better than a book. Cuts fall where a reader expects a break — a blank line, else
// a line end, else a sentence end, else a space — and never inside a surrogate pair. A cut
// inside a fenced code block closes the fence before it and reopens it after, so both halves
// still render as code.

const FENCE_LINE = /^\s*(```|~~~)/;

export interface Cut {
  /** The text of the finished part, fences closed. */
  readonly head: string;
  /** How many characters of the input the head consumed (the rest starts there). */
  readonly consumed: number;
  /** What the next part must start with: a reopened fence, or ''. */
  readonly carry: string;
}

/**
 * Where to cut `text` so the first part has at most `max` characters (fence and all), or
 * undefined when it fits.
 */
export function cutAnswer(text: string, max: number): Cut | undefined {
  if (text.length <= max) return undefined;
  // Room for a closing fence, should the cut fall inside a code block.
  const limit = max - 4;
  const floor = Math.floor(limit / 2);
  let at = text.lastIndexOf('\n\n', limit);
  if (at < floor) at = text.lastIndexOf('\n', limit);
  if (at < floor) at = lastSentenceEnd(text, limit, floor);
  if (at < floor) at = text.lastIndexOf(' ', limit);
  if (at < floor) {
    at = limit;
    const c = text.charCodeAt(at - 1);
    if (c >= 0xd800 && c <= 0xdbff) at--;
  }
  const head = text.slice(0, at).replace(/\s+$/, '');
  let consumed = at;
  while (consumed < text.length && isSpace(text.charCodeAt(consumed))) consumed++;
  const fence = openFence(head);
  if (fence === undefined) return { head, consumed, carry: '' };
  return { head: head + '\n```', consumed, carry: '```' + fence + '\n' };
}

/** The language of a code block left open at the end of `text` ('' for none), or undefined. */
function openFence(text: string): string | undefined {
  let open: string | undefined;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    const m = FENCE_LINE.exec(line);
    if (m)
      open =
        open === undefined
          ? line
              .trim()
              .slice(3)
              .replace(/^[`~]+/, '')
              .trim()
          : undefined;
    start = end + 1;
  }
  return open;
}

function lastSentenceEnd(text: string, limit: number, floor: number): number {
  for (let i = limit - 1; i >= floor; i--) {
    const c = text.charCodeAt(i);
    if ((c === 0x2e || c === 0x21 || c === 0x3f) && isSpace(text.charCodeAt(i + 1))) return i + 1;
  }
  return -1;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}
