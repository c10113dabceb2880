// Markdown, as language models write it, turned into XEP-0393 Message Styling, which XMPP clients
// render: *strong*, _emphasis_, ~strikethrough~, `preformatted` spans, ``` blocks and > quotes
// (XEP-0393 §6.1 blocks, §6.2 spans). What has no equivalent becomes plain text a person reads
// easily: headings become strong lines, bullets become •, links show their address, tables are
// kept in a preformatted block so their columns line up.
//
// Line-based and total: any text converts, half-written answers included (a stream may stop
// inside a code block or a bold run), and code (fenced blocks, inline spans) is never touched.

const FENCE = /^(\s*)(```+|~~~+)(.*)$/;
const HEADING = /^#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$/;
const BULLET = /^(\s*)[-*+][ \t]+/;
const RULE = /^[ \t]*([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const TABLE_ROW = /^\s*\|.*\|\s*$/;
const STRONG_STARS = /\*\*(?=\S)(.+?)(?<=\S)\*\*/g;
const STRONG_UNDERSCORES = /(^|[^\w])__(?=\S)(.+?)(?<=\S)__(?!\w)/g;
const EMPHASIS_STAR = /(^|[^\w*])\*(?=[^\s*])([^*\n]*?[^\s*])\*(?![\w*])/g;
const STRIKE = /~~(?=\S)(.+?)(?<=\S)~~/g;
const IMAGE = /!\[([^\]\n]*)\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g;
const LINK = /\[([^\]\n]+)\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g;
const AUTOLINK = /<((?:https?|xmpp|mailto):[^>\s]+)>/g;
/** A placeholder for the strong directive while emphasis is converted (never in real text). */
const STRONG_MARK = '\u0000';
const STRONG_MARKS = /\u0000/g;

/** The whole text converted. */
export function markdownToStyling(markdown: string): string {
  if (!mayNeedConversion(markdown)) return markdown;
  const lines = markdown.split('\n');
  const out: string[] = [];
  let fence: string | undefined;
  let inTable = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (fence !== undefined) {
      const close = FENCE.exec(line);
      if (close && close[2]!.startsWith(fence) && close[3]!.trim() === '') {
        out.push('```');
        fence = undefined;
      } else out.push(line);
      continue;
    }
    const open = FENCE.exec(line);
    if (open) {
      if (inTable) {
        out.push('```');
        inTable = false;
      }
      fence = open[2]!;
      // XEP-0393 ignores what follows the opening ``` (the language name).
      out.push('```' + open[3]!.trim());
      continue;
    }
    const tableRow = TABLE_ROW.test(line);
    if (tableRow !== inTable) {
      out.push('```');
      inTable = tableRow;
    }
    if (tableRow) {
      out.push(line.trim());
      continue;
    }
    out.push(convertLine(line));
  }
  if (inTable) out.push('```');
  return out.join('\n');
}

/** Plain prose with none of the characters Markdown uses passes through untouched (and unallocated). */
function mayNeedConversion(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // # * _ ~ ` [ < | - + and line starts are all that matter; this is a cheap first filter.
    if (
      c === 0x23 ||
      c === 0x2a ||
      c === 0x5f ||
      c === 0x7e ||
      c === 0x60 ||
      c === 0x5b ||
      c === 0x3c ||
      c === 0x7c
    )
      return true;
    if (
      (c === 0x2d || c === 0x2b) &&
      (i === 0 || text.charCodeAt(i - 1) === 0x0a || text.charCodeAt(i - 1) === 0x20)
    )
      return true;
  }
  return false;
}

function convertLine(line: string): string {
  if (RULE.test(line)) return '──────────';
  const heading = HEADING.exec(line);
  if (heading) return `*${convertSpans(heading[1]!).replace(/^\*(.*)\*$/, '$1')}*`;
  const bullet = BULLET.exec(line);
  if (bullet) return bullet[1] + '• ' + convertSpans(line.slice(bullet[0].length));
  return convertSpans(line);
}

/** Spans outside inline code: `code` is kept as it is. */
function convertSpans(text: string): string {
  if (!text.includes('`')) return convertProse(text);
  let out = '';
  let i = 0;
  while (i < text.length) {
    const tick = text.indexOf('`', i);
    if (tick < 0) break;
    let run = tick;
    while (text.charCodeAt(run) === 0x60) run++;
    const marker = text.slice(tick, run);
    const close = text.indexOf(marker, run);
    if (close < 0) break;
    out += convertProse(text.slice(i, tick));
    // ``x`` (Markdown's way to quote a backtick) becomes `x`: XEP-0393 has one kind of span.
    const code = text.slice(run, close);
    out += marker.length === 1 ? '`' + code + '`' : '`' + code.trim() + '`';
    i = close + marker.length;
  }
  return out + convertProse(text.slice(i));
}

function convertProse(text: string): string {
  if (text === '') return text;
  // The placeholder must not come from the text itself (a model may emit any character).
  let s = text.includes(STRONG_MARK) ? text.replace(STRONG_MARKS, '') : text;
  if (s.includes(']('))
    s = s.replace(IMAGE, (_m, alt: string, url: string) => (alt ? `${alt} (${url})` : url));
  if (s.includes(']('))
    s = s.replace(LINK, (_m, label: string, url: string) => (label === url ? url : `${label} (${url})`));
  if (s.includes('<')) s = s.replace(AUTOLINK, '$1');
  if (s.includes('**')) s = s.replace(STRONG_STARS, `${STRONG_MARK}$1${STRONG_MARK}`);
  if (s.includes('__')) s = s.replace(STRONG_UNDERSCORES, `$1${STRONG_MARK}$2${STRONG_MARK}`);
  if (s.includes('*')) s = s.replace(EMPHASIS_STAR, '$1_$2_');
  if (s.includes('~~')) s = s.replace(STRIKE, '~$1~');
  if (s.includes(STRONG_MARK)) s = s.replace(STRONG_MARKS, '*');
  return s;
}
