#!/usr/bin/env python3
"""Test-only DKIM check: dkim_verify.py FILE.eml PUBKEY_TXT

Verifies the (first) DKIM-Signature of FILE.eml with dkimpy, answering the DNS lookup of
<selector>._domainkey.<domain> with the contents of PUBKEY_TXT (e.g. `v=DKIM1; k=rsa; p=MIIB...`).
Prints "pass" and exits 0 when the signature verifies; prints "fail" (reason on stderr) and exits 1
otherwise.
"""

import logging
import sys

import dkim


def main():
    if len(sys.argv) != 3:
        print("usage: dkim_verify.py FILE.eml PUBKEY_TXT", file=sys.stderr)
        return 2
    with open(sys.argv[1], "rb") as f:
        message = f.read()
    with open(sys.argv[2], "rb") as f:
        record = b"".join(line.strip() for line in f.read().splitlines())

    queried = []

    def dnsfunc(name, timeout=5):
        queried.append(name.decode() if isinstance(name, bytes) else name)
        return record

    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="dkim: %(message)s")
    try:
        ok = dkim.verify(message, logger=logging.getLogger("dkim"), dnsfunc=dnsfunc)
    except Exception as e:  # malformed signature etc.
        print(f"dkim: error {e!r}", file=sys.stderr)
        ok = False
    if queried:
        print(f"dkim: key looked up at {queried[0]}", file=sys.stderr)
    print("pass" if ok else "fail")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
