#!/usr/bin/python3
"""Interop client for test/integration/slixmpp.test.ts: slixmpp, an XMPP library that shares
no code with Warbler, logs in over STARTTLS, sends one message, waits for one message, and
reports what happened as JSON lines on stdout (one object per line, "event" says which):

  auth     <auth/> sent: the SASL mechanism and the GS2 header (channel-binding flag)
  failure  <failure/> received: the SASL condition
  success  SASL succeeded: the mechanism
  bound    resource bound: the full JID, and the TLS version
  sent     the message was sent
  message  a message arrived: from, type, body
  error    something went wrong: why

Exit status 0 once a message has arrived, 1 otherwise (failed login, disconnection, timeout).
Written for slixmpp 1.8 (Debian 12's python3-slixmpp); run it with the interpreter that has it.
"""

import argparse
import asyncio
import json
import logging
import ssl
import sys

import slixmpp
from slixmpp.features.feature_mechanisms.stanza import Auth


def report(event, **fields):
    print(json.dumps({'event': event, **fields}), flush=True)


class InteropClient(slixmpp.ClientXMPP):
    def __init__(self, jid, password, to, body):
        super().__init__(jid, password)
        self.to = to
        self.body = body
        self.received = False
        # The test server's certificate is self-signed and made for this run.
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.add_filter('out', self.watch_auth)
        self.add_event_handler('failed_auth', self.on_failed_auth)
        self.add_event_handler('failed_all_auth', self.on_failed_all_auth)
        self.add_event_handler('auth_success', self.on_auth_success)
        self.add_event_handler('session_start', self.on_session_start)
        self.add_event_handler('message', self.on_message)
        self.add_event_handler('disconnected', self.on_disconnected)

    def mechanism(self):
        mech = self['feature_mechanisms'].mech
        return mech.name if mech is not None else None

    def watch_auth(self, stanza):
        if isinstance(stanza, Auth):
            mech = self['feature_mechanisms'].mech
            # SCRAM keeps its GS2 header ("p=tls-unique,," and the like); other mechanisms have none.
            gs2 = getattr(mech, 'gs2_header', None)
            report('auth', mechanism=stanza['mechanism'],
                   gs2_header=gs2.decode('utf-8') if gs2 is not None else None)
        return stanza

    def on_failed_auth(self, failure):
        report('failure', mechanism=self.mechanism(), condition=failure['condition'])

    def on_failed_all_auth(self, _event):
        report('error', reason='no mechanism succeeded')
        self.disconnect()

    def on_auth_success(self, _success):
        report('success', mechanism=self.mechanism())

    def on_session_start(self, _event):
        encrypted = isinstance(self.socket, (ssl.SSLObject, ssl.SSLSocket))
        report('bound', jid=self.boundjid.full, tls=self.socket.version() if encrypted else None)
        self.send_message(mto=self.to, mbody=self.body, mtype='chat')
        report('sent', to=self.to, body=self.body)

    def on_message(self, msg):
        if self.received:
            return
        self.received = True
        report('message', **{'from': msg['from'].full, 'type': msg['type'], 'body': msg['body']})
        self.disconnect()

    def on_disconnected(self, _event):
        if not self.received:
            report('error', reason='disconnected before a message arrived')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--jid', required=True, help='the account, with a resource if wanted')
    parser.add_argument('--password', required=True)
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, required=True, help='the STARTTLS port')
    parser.add_argument('--to', required=True, help='where to send the message')
    parser.add_argument('--body', default='hello from slixmpp')
    parser.add_argument('--timeout', type=float, default=15, help='seconds before giving up')
    parser.add_argument('--debug', action='store_true', help="slixmpp's log on stderr")
    args = parser.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.CRITICAL, stream=sys.stderr)

    xmpp = InteropClient(args.jid, args.password, args.to, args.body)
    xmpp.connect((args.host, args.port), use_ssl=False, force_starttls=True, disable_starttls=False)
    try:
        xmpp.loop.run_until_complete(asyncio.wait_for(xmpp.disconnected, args.timeout))
    except asyncio.TimeoutError:
        report('error', reason='timed out')
    return 0 if xmpp.received else 1


if __name__ == '__main__':
    sys.exit(main())
