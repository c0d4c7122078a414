#!/usr/bin/env python3
"""Test-only SMTP sink (aiosmtpd) for Kairos integration tests.

    smtp_sink.py --dir DIR [--reject SUBSTR]... [--tempfail SUBSTR]... [--auth USER:PASS] [--delay-ms N]

Listens on 127.0.0.1 on a port the OS picks and prints `listening on 127.0.0.1:PORT` (flushed) once
ready. Every accepted message is written as DIR/<n>.eml (the raw bytes received, n = 1, 2, ...) next to
DIR/<n>.json = {"mail_from": ..., "rcpt_tos": [...], "auth": login-or-null, "peer_port": client port (one
per SMTP session, so reused connections show up), "received_at": Unix time in seconds (float) when the
message was accepted, just before the 250 reply}; the .json is written first
and the .eml is renamed into place, so an existing .eml is always complete.

  --reject SUBSTR    RCPT TO addresses containing SUBSTR get `550 5.1.1 user unknown`
  --tempfail SUBSTR  RCPT TO addresses containing SUBSTR get `451 4.3.0 try later`
  --auth USER:PASS   advertise AUTH PLAIN/LOGIN (without TLS), require it, accept only USER:PASS
  --delay-ms N       wait N ms after the DATA content before accepting it (a slow receiving server)

Like an MTA (Postfix and Exim queue a message once its content ended, then reply), a message whose final dot
arrived is kept even when the client goes away before the reply (RFC 5321 section 6.1; RFC 1047 describes the
duplicates a client that then sends it again causes).

Exits on SIGTERM/SIGINT, and when stdin is a pipe that gets closed (so a test that drops the child's
stdin, or dies, takes the sink down with it).
"""

import argparse
import asyncio
import json
import os
import signal
import stat
import sys
import time

from aiosmtpd.smtp import SMTP, AuthResult


class Handler:
    def __init__(self, directory, reject, tempfail, delay):
        self.directory = directory
        self.reject = reject
        self.tempfail = tempfail
        self.delay = delay
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if any(s in address for s in self.reject):
            return "550 5.1.1 user unknown"
        if any(s in address for s in self.tempfail):
            return "451 4.3.0 try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        # Shielded: a client that disconnects while it waits for the reply does not cancel the acceptance.
        return await asyncio.shield(self.accept(session, envelope))

    async def accept(self, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        self.count += 1
        n = self.count
        auth = session.auth_data
        if isinstance(auth, bytes):
            auth = auth.decode("utf-8", "replace")
        peer = session.peer[1] if isinstance(session.peer, tuple) else None
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos), "auth": auth, "peer_port": peer,
                "received_at": time.time()}
        with open(os.path.join(self.directory, f"{n}.json"), "w") as f:
            json.dump(meta, f)
        raw = envelope.original_content
        if raw is None:
            raw = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        tmp = os.path.join(self.directory, f".{n}.eml.tmp")
        with open(tmp, "wb") as f:
            f.write(raw)
        os.rename(tmp, os.path.join(self.directory, f"{n}.eml"))
        return "250 2.0.0 Ok: queued"


class Authenticator:
    def __init__(self, user, password):
        self.user = user.encode()
        self.password = password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        login = getattr(auth_data, "login", None)
        password = getattr(auth_data, "password", None)
        if login == self.user and password == self.password:
            return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)


async def main():
    ap = argparse.ArgumentParser(description="test-only SMTP sink")
    ap.add_argument("--dir", required=True, help="directory for <n>.eml and <n>.json")
    ap.add_argument("--reject", action="append", default=[], help="550 for RCPT containing this")
    ap.add_argument("--tempfail", action="append", default=[], help="451 for RCPT containing this")
    ap.add_argument("--auth", help="USER:PASS to require")
    ap.add_argument("--delay-ms", type=int, default=0, help="wait this long before accepting each message")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    handler = Handler(args.dir, args.reject, args.tempfail, args.delay_ms / 1000.0)
    kwargs = {"hostname": "sink.test", "decode_data": False}
    if args.auth:
        user, _, password = args.auth.partition(":")
        kwargs.update(authenticator=Authenticator(user, password), auth_required=True, auth_require_tls=False)

    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, **kwargs), host="127.0.0.1", port=0)
    port = server.sockets[0].getsockname()[1]

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    stdin_fd = sys.stdin.fileno() if sys.stdin is not None else None
    if stdin_fd is not None and stat.S_ISFIFO(os.fstat(stdin_fd).st_mode):

        def on_stdin():
            try:
                data = os.read(stdin_fd, 4096)
            except OSError:
                data = b""
            if not data:
                loop.remove_reader(stdin_fd)
                stop.set()

        loop.add_reader(stdin_fd, on_stdin)

    print(f"listening on 127.0.0.1:{port}", flush=True)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
