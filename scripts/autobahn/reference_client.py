#!/usr/bin/env python3
"""Reference peer for scripts/autobahn/fuzzingserver.sh (NOT used by CI).

A tiny Autobahn fuzzingserver client built on the `websockets` package
(`pip install websockets`), useful to check fuzzingserver.sh itself or to
compare against one of our clients:

    scripts/autobahn/fuzzingserver.sh -a py-websockets -c "1.1.*" -o /tmp/ab \\
        -- python3 scripts/autobahn/reference_client.py

It follows the usual protocol: GET /getCaseCount, then for each case
/runCase?case=N&agent=AGENT echoing every text/binary message until the
server closes, then /updateReports?agent=AGENT. URL and agent default to
$AUTOBAHN_URL and $AUTOBAHN_AGENT (set by fuzzingserver.sh); they can also be
given as arguments: reference_client.py [URL [AGENT]].
"""

import asyncio
import os
import sys

import websockets


async def main():
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AUTOBAHN_URL", "ws://127.0.0.1:9002")
    agent = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("AUTOBAHN_AGENT", "py-websockets")
    limits = dict(max_size=None, compression=None, open_timeout=30, close_timeout=10)

    async with websockets.connect(url + "/getCaseCount", **limits) as ws:
        count = int(await ws.recv())
    print("cases: %d" % count, flush=True)

    for case in range(1, count + 1):
        try:
            async with websockets.connect("%s/runCase?case=%d&agent=%s" % (url, case, agent), **limits) as ws:
                async for message in ws:
                    await ws.send(message)
        except websockets.exceptions.WebSocketException as e:
            # Failing the connection is the expected outcome of many cases.
            print("case %d: %s" % (case, e), flush=True)

    async with websockets.connect("%s/updateReports?agent=%s" % (url, agent), **limits) as ws:
        try:
            await ws.recv()
        except websockets.exceptions.ConnectionClosed:
            pass
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
