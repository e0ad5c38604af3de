"""Scale-out check: 1, 2 and 3 broker nodes on one Redis; throughput and latency per node count.

    python -m bench.scaleout [--nodes 1,2,3] [--developers 6] [--producers 4] [--seconds 5]

For each node count it starts a private redis-server (AOF, ``appendfsync everysec``: the setting
docs/deployment.md recommends) and that many `wearstream broker --backend` processes, then runs
one load process: every developer has one consumer, on node ``d % nodes``, and ``--producers``
producers spread round-robin over all nodes, so most payloads cross nodes through Redis. Each
producer submits as fast as its connection takes frames for ``--seconds``; each reading carries
its send time, so a consumer measures the end-to-end latency (send → DISPATCH received).

Throughput is what consumers received per second. Everything (Redis, brokers, load) shares this
machine's cores, so on a small box more nodes mostly means more contention: read the numbers as a
check that the cluster works and where it saturates, not as capacity planning.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from wearstream.testing.broker_process import (
    BrokerProcess,
    DeveloperCredentials,
    clean_environment,
    wearstream_command,
)
from wearstream.testing.redis_server import RedisServer

TS = "2022-05-04T10:26:11.268507+01:00"


def create_developer(backend: str, name: str) -> DeveloperCredentials:
    command = [*wearstream_command(), "developers", "create", name, "--backend", backend, "--json"]
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=clean_environment())
    obj = json.loads(done.stdout.strip().splitlines()[-1])
    return DeveloperCredentials(obj["dev_id"], obj["api_key"])


async def mint(node: BrokerProcess, dev: DeveloperCredentials, user: str | None) -> str:
    path = "/auth/developer" if user is None else f"/auth/user?id={user}"
    async with httpx.AsyncClient(base_url=node.http_url, timeout=30) as http:
        response = await http.post(path, headers=dev.headers())
    response.raise_for_status()
    return response.json()["token"]


async def consume(node: BrokerProcess, dev: DeveloperCredentials, latencies: list[float],
                  *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Record the latency of every DISPATCH until cancelled."""
    token = await mint(node, dev, None)
    async with open_websocket_url(node.ws_url) as ws:
        await ws.get_message()
        await ws.send_message(json.dumps({"op": 3, "d": {"token": token, "type": 1}}))
        await ws.get_message()  # READY
        task_status.started()
        try:
            while True:
                frame = json.loads(await ws.get_message())
                if frame["op"] == 5:
                    latencies.append(time.time() - frame["d"]["val"])
        except ConnectionClosed:
            pass


async def produce(node: BrokerProcess, dev: DeveloperCredentials, user: str, until: float,
                  rate: float, sent: list[int]) -> None:
    """Submit until ``until``: ``rate`` readings a second, or as fast as possible when 0."""
    token = await mint(node, dev, user)
    async with open_websocket_url(node.ws_url) as ws:
        await ws.get_message()
        await ws.send_message(json.dumps({"op": 3, "d": {"token": token, "type": 0}}))
        await ws.get_message()
        count, start = 0, trio.current_time()
        while time.time() < until:
            frame = {"op": 6, "t": "HEART_RATE", "d": {"ts": TS, "val": time.time()}}
            await ws.send_message(json.dumps(frame))
            count += 1
            if rate:
                await trio.sleep_until(start + count / rate)
            elif count % 50 == 0:
                await trio.sleep(0)  # let the consumers' tasks in
        sent.append(count)


async def run_load(nodes: list[BrokerProcess], devs: list[DeveloperCredentials],
                   args: argparse.Namespace) -> dict[str, float]:
    latencies: list[float] = []
    sent: list[int] = []
    async with trio.open_nursery() as nursery:
        for d, dev in enumerate(devs):
            await nursery.start(consume, nodes[d % len(nodes)], dev, latencies)
        until = time.time() + args.seconds
        async with trio.open_nursery() as producing:
            for d, dev in enumerate(devs):
                for p in range(args.producers):
                    node = nodes[(d + p + 1) % len(nodes)]
                    producing.start_soon(produce, node, dev, f"user{p}", until, args.rate, sent)
        await trio.sleep(2)  # drain
        nursery.cancel_scope.cancel()
    seconds = args.seconds
    latencies.sort()
    return {
        "sent_per_s": sum(sent) / seconds,
        "received_per_s": len(latencies) / seconds,
        "latency_p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "latency_p99_ms": 1000 * latencies[int(len(latencies) * 0.99)] if latencies else float("nan"),
    }


def measure(count: int, args: argparse.Namespace) -> dict[str, float]:
    with RedisServer(Path(tempfile.mkdtemp(prefix="scaleout-redis-")), appendonly=True) as redis:
        redis_everysec(redis)
        devs = [create_developer(redis.url, f"bench{i}") for i in range(args.developers)]
        extra = ["--backend", redis.url, "--log-level", "warning"]
        nodes = [BrokerProcess.create(None, extra=extra) for _ in range(count)]
        try:
            for node in nodes:
                node.start()
            return trio.run(run_load, nodes, devs, args)
        finally:
            for node in nodes:
                node.kill()


def redis_everysec(redis: RedisServer) -> None:
    """The recommended production setting instead of the tests' fsync-always."""
    with socket.create_connection(("127.0.0.1", redis.port)) as sock:
        sock.sendall(b"CONFIG SET appendfsync everysec\r\n")
        sock.recv(64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", default="1,2,3")
    parser.add_argument("--developers", type=int, default=6)
    parser.add_argument("--producers", type=int, default=4, help="per developer")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=0, help="per producer, readings/s (0: flat out)")
    args = parser.parse_args()
    print(f"{'nodes':>5} {'sent/s':>9} {'received/s':>11} {'p50 ms':>8} {'p99 ms':>8}")
    for count in (int(n) for n in args.nodes.split(",")):
        r = measure(count, args)
        print(
            f"{count:>5} {r['sent_per_s']:>9.0f} {r['received_per_s']:>11.0f} "
            f"{r['latency_p50_ms']:>8.1f} {r['latency_p99_ms']:>8.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
