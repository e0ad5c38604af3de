"""A Terra consumer written the way Terra's users write them: Python, asyncio, `websockets`, the
standard library for HTTP. It knows nothing of wearstream: it was written for Terra's hosted API
and is pointed at a broker by its URLs and credentials only.

Its habits, each seen in a real program: it derives the token endpoint from one base URL (when
given one), heartbeats as soon as HELLO arrives (before IDENTIFY), then after ``interval × jitter``
and every interval give or take a little, parses ``ts`` with a literal ``Z`` and silently drops
what does not parse, and ignores fields it does not know. It runs for ``--seconds`` and prints one
JSON summary line of what it saw.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import urllib.request
from datetime import datetime

import websockets


def mint(api_url: str, dev_id: str, api_key: str) -> str:
    request = urllib.request.Request(
        api_url + "/auth/developer", method="POST", headers={"dev-id": dev_id, "x-api-key": api_key}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["token"]


async def heartbeat(ws, interval: float, summary: dict) -> None:
    await asyncio.sleep(interval * random.uniform(0.1, 1.0))
    while True:
        await ws.send(json.dumps({"op": 0}))
        summary["heartbeats"] += 1
        await asyncio.sleep(interval * random.uniform(0.95, 1.2))  # a sloppy timer, a busy loop


async def consume(args: argparse.Namespace) -> dict:
    if args.base_url:  # e.g. https://ws.tryterra.co: one origin for both
        api_url = args.base_url
        ws_url = args.base_url.replace("http", "ws", 1) + "/connect"
    else:
        api_url, ws_url = args.api_url, args.ws_url
    token = await asyncio.to_thread(mint, api_url, args.dev_id, args.api_key)
    summary = {"samples": [], "unparsed": [], "heartbeats": 0, "acks": 0, "ready": None,
               "close": None}
    async with websockets.connect(ws_url) as ws:
        hello = json.loads(await ws.recv())
        assert hello["op"] == 2, hello
        interval = hello["d"]["heartbeat_interval"] / 1000
        if args.heartbeat_at_hello:
            await ws.send(json.dumps({"op": 0}))
            summary["heartbeats"] += 1
        await ws.send(json.dumps({"op": 3, "d": {"token": token, "type": 1}}))
        beats = asyncio.create_task(heartbeat(ws, interval, summary))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + args.seconds
        try:
            while (left := deadline - loop.time()) > 0:
                try:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), left))
                except asyncio.TimeoutError:
                    break
                if frame["op"] == 1:
                    summary["acks"] += 1
                elif frame["op"] == 4:
                    summary["ready"] = frame
                elif frame["op"] == 5:
                    try:
                        at = datetime.strptime(frame["d"]["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
                    except ValueError:
                        summary["unparsed"].append(frame["d"]["ts"])  # the silent drop
                        continue
                    summary["samples"].append(
                        {"seq": frame["seq"], "uid": frame["uid"], "t": frame["t"], "at": at.isoformat()}
                    )
        except websockets.ConnectionClosed as closed:
            summary["close"] = [closed.rcvd.code if closed.rcvd else None,
                                closed.rcvd.reason if closed.rcvd else ""]
        finally:
            beats.cancel()
    return summary


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url")
    parser.add_argument("--api-url")
    parser.add_argument("--ws-url")
    parser.add_argument("--dev-id", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--heartbeat-at-hello", action="store_true")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(consume(args))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
