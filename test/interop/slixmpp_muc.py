#!/usr/bin/python3
"""Interop client for test/integration/muc-slixmpp.test.ts: slixmpp, an XMPP library that shares
no code with Warbler, as a moderator of a room the test prepared. It enters the room, says
something, reads the room's archive (XEP-0313 through slixmpp's own paging), pings itself in the
room (XEP-0410), retracts a message as a moderator with the 0.2 form of XEP-0425 that slixmpp
1.8 speaks, and reports as JSON lines on stdout (one object per line, "event" says which):

  joined     entered: the history bodies, and the occupant id of its own presence
  said       its message came back: stanza_id (by the room) and occupant_id
  archive    the archive, oldest first: [{id, body, from}]
  pinged     the self-ping was answered (ok: true) or not (error: condition)
  moderated  the room announced a retraction: id, by
  error      something went wrong: why

Exit status 0 once the retraction was announced, 1 otherwise. Written for slixmpp 1.8
(Debian 12's python3-slixmpp); run it with the interpreter that has it.
"""

import argparse
import asyncio
import json
import logging
import ssl
import sys

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout


def report(event, **fields):
    print(json.dumps({'event': event, **fields}), flush=True)


class Moderator(slixmpp.ClientXMPP):
    def __init__(self, jid, password, room, nick, spam):
        super().__init__(jid, password)
        self.room = slixmpp.JID(room)
        self.nick = nick
        self.spam = spam
        self.done = False
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        for plugin in ('xep_0030', 'xep_0045', 'xep_0059', 'xep_0199', 'xep_0313', 'xep_0359',
                       'xep_0421', 'xep_0425'):
            self.register_plugin(plugin)
        self.add_event_handler('session_start', self.on_session_start)
        self.add_event_handler('moderated_message', self.on_moderated)
        self.add_event_handler('disconnected', lambda _: report('error', why='disconnected'))

    async def on_session_start(self, _event):
        try:
            await self.run()
        except Exception as err:  # report whatever went wrong, then stop
            report('error', why=f'{type(err).__name__}: {err}')
            self.disconnect()

    async def run(self):
        self.send_presence()
        presence, _subject, _occupants, history = await self['xep_0045'].join_muc_wait(
            self.room, self.nick, maxstanzas=10, timeout=10)
        report('joined', history=[m['body'] for m in history],
               occupant_id=presence['occupant-id']['id'])

        reflected = asyncio.get_running_loop().create_future()

        def on_groupchat(msg):
            if msg['from'].resource == self.nick and msg['body'] == 'hello from slixmpp' \
                    and not reflected.done():
                reflected.set_result(msg)

        self.add_event_handler('groupchat_message', on_groupchat)
        self.send_message(mto=self.room, mbody='hello from slixmpp', mtype='groupchat')
        msg = await asyncio.wait_for(reflected, 10)
        report('said', stanza_id=msg['stanza_id']['id'], by=msg['stanza_id']['by'],
               occupant_id=msg['occupant-id']['id'])

        archive = []
        async for result in self['xep_0313'].iterate(jid=self.room, rsm={'max': 2}):
            forwarded = result['mam_result']['forwarded']['stanza']
            archive.append({'id': result['mam_result']['id'], 'body': forwarded['body'],
                            'from': str(forwarded['from'])})
        report('archive', messages=archive)

        try:
            await self['xep_0199'].ping(slixmpp.JID(f'{self.room}/{self.nick}'), timeout=10)
            report('pinged', ok=True)
        except IqError as err:
            report('pinged', error=err.iq['error']['condition'])
        except IqTimeout:
            report('pinged', error='timeout')

        target = next(m['id'] for m in archive if m['body'] == self.spam)
        await self['xep_0425'].moderate(self.room, target, 'spam', timeout=10)

    def on_moderated(self, msg):
        report('moderated', id=msg['apply_to']['id'], by=str(msg['apply_to']['moderated']['by']))
        self.done = True
        self.disconnect()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--jid', required=True)
    parser.add_argument('--password', required=True)
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--room', required=True)
    parser.add_argument('--nick', required=True)
    parser.add_argument('--spam', required=True, help='the body of the message to retract')
    parser.add_argument('--timeout', type=float, default=20)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)

    client = Moderator(args.jid, args.password, args.room, args.nick, args.spam)
    client.connect(('127.0.0.1', args.port), use_ssl=False, force_starttls=True, disable_starttls=False)
    try:
        client.loop.run_until_complete(asyncio.wait_for(client.disconnected, args.timeout))
    except asyncio.TimeoutError:
        report('error', why='timeout')
    sys.exit(0 if client.done else 1)


if __name__ == '__main__':
    main()
