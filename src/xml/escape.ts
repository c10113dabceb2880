// XML escaping for the serializer. Text and attribute values are stored unescaped in
// elements and escaped exactly once, on the way out.
//
// Characters XML 1.0 forbids (most C0 controls, U+FFFE, U+FFFF) can reach us only from our
// own code (stanzas we parse never contain them); one in a stream would make the peer close
// it with not-well-formed, so they are replaced with U+FFFD instead.

const FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;
const TEXT_SPECIAL = /[&<>\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
const ATTR_SPECIAL = /[&<>"'\t\n\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

export function escapeText(s: string): string {
  if (!TEXT_SPECIAL.test(s)) return s;
  // A literal CR would come back as LF (XML §2.11 line-end normalization); a reference survives.
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\r/g, '&#13;')
    .replace(FORBIDDEN, '\uFFFD');
}

export function escapeAttr(s: string): string {
  if (!ATTR_SPECIAL.test(s)) return s;
  // Whitespace characters are escaped so that attribute-value normalization on the
  // receiving side gives back exactly what was sent.
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\t/g, '&#9;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;')
    .replace(FORBIDDEN, '\uFFFD');
}
