#!/usr/bin/python3
"""Interop component for test/integration/component-slixmpp.test.ts: slixmpp's ComponentXMPP
(XEP-0114, a library that shares no code with Warbler) connects to the component port, asks the
server for its disco items, echoes every chat message it gets, and reports as JSON lines on
stdout (one object per line, "event" says which):

  online   the handshake succeeded
  items    the server's disco#items: a list of JIDs
  message  a message arrived: from, to, body (and was echoed back from its 'to')
  offline  the stream ended: why (a stream error condition, or 'disconnected')

It runs until --timeout seconds have passed or the stream ends. Exit status 0 when it was
online at some point, 1 otherwise. Written for slixmpp 1.8 (Debian 12's python3-slixmpp).
"""

import argparse
import asyncio
import json
import logging
import sys

import slixmpp
from slixmpp.componentxmpp import ComponentXMPP


def report(event, **fields):
    print(json.dumps({'event': event, **fields}), flush=True)


class EchoComponent(ComponentXMPP):
    def __init__(self, jid, secret, port, server):
        super().__init__(jid, secret, '127.0.0.1', port)
        self.server_domain = server
        self.was_online = False
        self.register_plugin('xep_0030')
        self.add_event_handler('session_start', self.on_session_start)
        self.add_event_handler('message', self.on_message)
        self.add_event_handler('stream_error', self.on_stream_error)
        self.add_event_handler('disconnected', self.on_disconnected)

    async def on_session_start(self, _event):
        self.was_online = True
        report('online')
        items = await self['xep_0030'].get_items(jid=self.server_domain, ifrom=self.boundjid.bare)
        report('items', jids=sorted(str(item[0]) for item in items['disco_items']['items']))

    def on_message(self, msg):
        if msg['type'] not in ('chat', 'normal'):
            return
        report('message', **{'from': str(msg['from']), 'to': str(msg['to']), 'body': msg['body']})
        reply = msg.reply('echo: ' + msg['body'])
        reply.send()

    def on_stream_error(self, error):
        report('offline', why=error['condition'])

    def on_disconnected(self, _reason):
        report('offline', why='disconnected')
        asyncio.get_event_loop().stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--jid', required=True)
    parser.add_argument('--secret', required=True)
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--server', default='localhost')
    parser.add_argument('--timeout', type=float, default=20)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    component = EchoComponent(args.jid, args.secret, args.port, args.server)
    component.connect()
    loop = asyncio.get_event_loop()
    loop.call_later(args.timeout, loop.stop)
    loop.run_forever()
    sys.exit(0 if component.was_online else 1)


if __name__ == '__main__':
    main()
