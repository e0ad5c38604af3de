"""The real broker (`serve_broker`, memory stores) with benchmark developers already in it.

    python -m bench.memory_broker --developers N [--heartbeat-interval MS] [--log-level LEVEL]

`wearstream broker` without --data-dir keeps developers in memory, where `wearstream developers
create` (another process) cannot reach them. This launcher is the same composition root with the
same stores, plus N developers made before the ready line: it prints one JSON line
``{"developers": [{"dev_id": ..., "api_key": ...}, ...]}`` and then the broker's usual ready line,
so testing.broker_process.BrokerProcess can run it like the real command.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal

import trio

from wearstream.entrypoints.broker import BrokerSettings, RunningBroker, serve_broker
from wearstream.entrypoints import gc_tuning
from wearstream.entrypoints.state import create_developer

DEVELOPERS_PREFIX = '{"developers":'


async def main(args: argparse.Namespace) -> None:
    settings = BrokerSettings(
        host="127.0.0.1", port=0, heartbeat_interval=args.heartbeat_interval
    )
    async with trio.open_nursery() as nursery:
        running: RunningBroker = await nursery.start(serve_broker, settings)
        made = [
            await create_developer(running.stores.developers, f"bench{i}")
            for i in range(args.developers)
        ]
        credentials = [{"dev_id": m.dev_id, "api_key": m.api_key} for m in made]
        gc_tuning.tune()  # as `wearstream broker` does once started
        print(json.dumps({"developers": credentials}), flush=True)
        print(f"wearstream broker ready ws={running.ws_url} http={running.api_url}", flush=True)
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                break
        await running.broker.shutdown()
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--developers", type=int, default=1)
    parser.add_argument("--heartbeat-interval", type=int, default=BrokerSettings().heartbeat_interval)
    parser.add_argument("--log-level", default="info")
    arguments = parser.parse_args()
    logging.basicConfig(
        level=arguments.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    trio.run(main, arguments)
