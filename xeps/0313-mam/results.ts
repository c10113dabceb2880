// XEP-0313 §4.2: each archived message is sent as a <result/> wrapping a XEP-0297
// <forwarded/> with a XEP-0203 <delay/> (the archive time); §4.3: the <fin/> that ends the
// query, with the RSM answer of XEP-0059 and 'complete' when no message lies beyond the page.
// §5: the archive's metadata.

import { type Element, x } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { rsmSet } from './rsm.js';
import type { ArchivedMessage, ArchiveEnds, ArchivePage } from './store.js';

/** XEP-0082 DateTime in UTC, with milliseconds. */
export function stampText(ms: number): string {
  return new Date(ms).toISOString();
}

/** One result, addressed to the querying resource, from the archive's address. */
export function resultMessage(
  to: string,
  from: string,
  queryId: string | undefined,
  message: ArchivedMessage,
  original: Element,
): Element {
  return x(
    'message',
    { to, from },
    x(
      'result',
      { xmlns: NS.MAM, queryid: queryId, id: message.id },
      x(
        'forwarded',
        { xmlns: NS.FORWARD },
        x('delay', { xmlns: NS.DELAY, stamp: stampText(message.stamp) }),
        original,
      ),
    ),
  );
}

export function finElement(page: ArchivePage): Element {
  const first = page.messages[0];
  return x(
    'fin',
    { xmlns: NS.MAM, complete: page.complete ? 'true' : undefined },
    rsmSet({
      first: first && { id: first.id, index: page.firstIndex },
      last: page.messages.at(-1)?.id,
      count: page.count,
    }),
  );
}

export function metadataElement(ends: ArchiveEnds | undefined): Element {
  return x(
    'metadata',
    { xmlns: NS.MAM },
    ends && x('start', { id: ends.first.id, timestamp: stampText(ends.first.stamp) }),
    ends && x('end', { id: ends.last.id, timestamp: stampText(ends.last.stamp) }),
  );
}
