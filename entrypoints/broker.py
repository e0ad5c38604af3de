"""`wearstream broker`: the WebSocket broker and its HTTP token API, wired in one nursery."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Sequence
from urllib.parse import urlsplit

import attrs

from ..adapters.logging_json import add_logging_options, configure_logging
from . import gc_tuning
from .config import Commands, OptionParser
from .values import DAY_S, PORT, byte_size, duration, integer, seconds

if TYPE_CHECKING:  # pragma: no cover
    import trio

    from ..adapters.websocket.broker import Broker
    from ..adapters.websocket.hub import Hub
    from ..ports.storage import Retention, StreamLog
    from .state import Stores

from ..domain.limits import HubLimits

log = logging.getLogger("wearstream.broker")
_LIMITS = HubLimits()


@attrs.frozen
class BrokerSettings:
    host: str = "127.0.0.1"
    port: int = 8765
    http_port: int | None = None
    certfile: str | None = None
    keyfile: str | None = None
    max_connections: int = 10_000
    handshake_timeout: float = 10.0
    max_head_bytes: int = 16 * 1024
    max_message_bytes: int = 1024 * 1024
    max_identify_bytes: int = 16 * 1024
    http_idle_timeout: float = 30.0
    data_dir: str | None = None
    identify_timeout: float = 15.0
    heartbeat_interval: int = 40_000
    heartbeat_grace: float = 1.5
    max_consumers: int = 1
    token_ttl: float = 300.0
    backend: str | None = None
    retention: str | None = None
    retention_interval: float = 60.0
    consumer_lease: float = 10.0
    cors_origin: tuple[str, ...] = ()
    db_busy_timeout: float = 10.0
    metrics_token: str | None = None
    # What one client can make the broker hold (docs/limits.md).
    submit_queue_bytes: int = _LIMITS.submit_queue_bytes
    consumer_queue_bytes: int = _LIMITS.consumer_queue_bytes
    max_pending_replays: int = _LIMITS.max_pending_replays
    max_dashboards: int = _LIMITS.max_dashboards
    dashboard_queue_bytes: int = _LIMITS.dashboard_queue_bytes
    max_devices_per_user: int = _LIMITS.max_devices
    presence_interval: float = _LIMITS.presence_interval
    send_timeout: float = _LIMITS.send_timeout
    coalesce: float = _LIMITS.coalesce
    max_overlay_streams: int = 32
    producer_link_ttl: float = 900.0
    producer_session_ttl: float = 12 * 3600.0
    public_url: str | None = None


@attrs.frozen
class RunningBroker:
    """What a started broker hands back: its URLs and its parts (for the demo and for tests)."""

    ws_url: str
    api_url: str
    broker: "Broker"
    hub: "Hub"
    stores: "Stores"


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "broker",
        help="run the broker: WebSocket /connect plus the HTTP token API",
        description="Run the broker. Every option also reads WEARSTREAM_<OPTION>.",
    )
    d = BrokerSettings()
    parser.add_argument("--host", default=d.host, help="interface to listen on; 0.0.0.0 for every one")
    parser.add_argument(
        "--port", type=PORT, default=d.port,
        help="the one port for WebSocket /connect and the HTTP API, 0 = any free",
    )
    parser.add_argument(
        "--http-port", type=PORT, default=None,
        help="also serve the HTTP API on this port of its own (default: only on --port)",
    )
    parser.add_argument(
        "--certfile", default=None, metavar="PEM",
        help="serve wss:// and https:// with this certificate (chain); with --keyfile",
    )
    parser.add_argument("--keyfile", default=None, metavar="PEM", help="the certificate's private key")
    parser.add_argument(
        "--max-connections", type=integer(1, 1_000_000), default=d.max_connections, metavar="N",
        help="connections at once (WebSocket and HTTP); beyond: 503",
    )
    parser.add_argument(
        "--handshake-timeout", type=seconds(3600), default=d.handshake_timeout, metavar="S",
        help="time from connect to a complete request head (and TLS handshake)",
    )
    parser.add_argument(
        "--max-head-bytes", type=integer(1024, 1 << 20, unit=" bytes"), default=d.max_head_bytes, metavar="N",
        help="largest request head; beyond: 431",
    )
    parser.add_argument(
        "--max-message-bytes", type=integer(1024, 64 << 20, unit=" bytes"), default=d.max_message_bytes, metavar="N",
        help="largest WebSocket message; beyond: close 1009",
    )
    parser.add_argument(
        "--max-identify-bytes", type=integer(1024, 64 << 20, unit=" bytes"), default=d.max_identify_bytes,
        metavar="N", help="largest WebSocket message before the session is READY; beyond: close 1009",
    )
    parser.add_argument(
        "--http-idle-timeout", type=seconds(3600), default=d.http_idle_timeout, metavar="S",
        help="close an HTTP connection idle this long (keep-alive cap)",
    )
    parser.add_argument(
        "--data-dir", default=None, metavar="DIR",
        help="keep developers, keys and the log here (default: in memory, gone at exit)",
    )
    parser.add_argument(
        "--identify-timeout", type=seconds(3600), default=d.identify_timeout, metavar="S",
        help="close a connection that has not identified itself after this long",
    )
    parser.add_argument(
        "--heartbeat-interval", type=integer(100, 3_600_000, unit=" of ms"), default=d.heartbeat_interval,
        metavar="MS", help="the heartbeat interval told to clients in HELLO; silent for 1.5x this: closed",
    )
    parser.add_argument(
        "--max-consumers", type=integer(1, 1000), default=d.max_consumers, metavar="N",
        help="consumers connected at once per developer",
    )
    parser.add_argument(
        "--token-ttl", type=seconds(DAY_S), default=d.token_ttl, metavar="S",
        help="how long a minted token stays usable",
    )
    parser.add_argument(
        "--heartbeat-grace", type=_grace, default=d.heartbeat_grace, metavar="X",
        help="close a client silent for longer than interval × X with 4005 (%(default)s: "
        "a client beating once per interval may be up to half an interval late)",
    )
    parser.add_argument(
        "--backend", type=_backend, default=None, metavar="URL",
        help="share state with other broker nodes in Redis (redis://HOST:PORT/DB); "
        "default: embedded (SQLite under --data-dir, else memory)",
    )
    parser.add_argument(
        "--retention", type=_retention, default=None, metavar="AGE,COUNT",
        help="keep each developer's payloads this long and/or this many: 7d, 1000000 or "
        "7d,1000000 (default: keep everything)",
    )
    parser.add_argument(
        "--consumer-lease", type=seconds(3600), default=d.consumer_lease, metavar="S",
        help="with --backend: a consumer's slot under --max-consumers outlives a crashed node "
        "by at most this long (%(default)s s)",
    )
    parser.add_argument(
        "--db-busy-timeout", type=seconds(3600), default=d.db_busy_timeout, metavar="S",
        help="with --data-dir: how long a write waits for another process's lock on the "
        "database before the broker reports storage unavailable and refuses submissions "
        "until it is free (%(default)s s)",
    )
    parser.add_argument(
        "--retention-interval", type=seconds(DAY_S), default=d.retention_interval, metavar="S",
        help="how often retention is applied (%(default)s s)",
    )
    parser.add_argument(
        "--cors-origin", action="append", type=_cors_origins, default=None, metavar="ORIGIN",
        help="a browser origin (https://app.example) allowed to call the HTTP API; repeat it or "
        "give a comma list, * for any (default: none)",
    )
    parser.add_argument(
        "--metrics-token", default=None, metavar="TOKEN",
        help="require 'Authorization: Bearer TOKEN' on GET /metrics (default: open); prefer "
        "WEARSTREAM_METRICS_TOKEN, which other users cannot read from the process list",
    )
    _add_limits(parser, d)
    parser.add_argument(
        "--max-overlay-streams", type=integer(1, 100_000), default=d.max_overlay_streams, metavar="N",
        help="(user, data type) pairs shown by one developer's OBS overlays at once on this node; "
        "the next overlay is told to wait (%(default)s)",
    )
    _add_producer_links(parser, d)
    add_logging_options(parser, level="info", log_format="auto")
    parser.set_defaults(func=run)


def _add_producer_links(parser: OptionParser, d: BrokerSettings) -> None:
    """Producer links: a browser tab streams for one user without the API key (docs/web-producer.md)."""
    parser.add_argument(
        "--producer-link-ttl", type=seconds(DAY_S), default=d.producer_link_ttl, metavar="S",
        help="a producer link (wearstream producer-link) can be opened once, within this many "
        "seconds (%(default)s)",
    )
    parser.add_argument(
        "--producer-session-ttl", type=seconds(30 * DAY_S), default=d.producer_session_ttl, metavar="S",
        help="a browser tab that opened a producer link mints producer tokens for this long "
        "(%(default)s s); revoking the developer ends it at once",
    )
    parser.add_argument(
        "--public-url", type=_public_url, default=None, metavar="URL",
        help="the broker's address as phones reach it (https://broker.example), used in producer "
        "links (default: the address each request came to)",
    )


def _public_url(value: str) -> str:
    """The broker's root as phones reach it: the web producer's page asks for its paths at the
    root of its origin, so a path prefix would break it (docs/web-producer.md)."""
    if not _is_origin(value.rstrip("/")):
        raise argparse.ArgumentTypeError(
            f"give http:// or https:// and a host (and port), at the root: no path, ? or #; got {value!r}"
        )
    return value.rstrip("/")


def _cors_origins(value: str) -> tuple[str, ...]:
    """One --cors-origin value, maybe a comma list: each ``*`` or an origin, as a browser sends it."""
    origins = tuple(origin.strip().rstrip("/") for origin in value.split(",") if origin.strip())
    bad = [origin for origin in origins if origin != "*" and not _is_origin(origin)]
    if bad:
        raise argparse.ArgumentTypeError(
            f"{bad[0]!r} is not a browser origin: give scheme://host[:port], e.g. https://app.example, or *"
        )
    return origins


def _is_origin(value: str) -> bool:
    """scheme://host[:port] with http or https, and nothing after it."""
    try:
        parts = urlsplit(value)
        port = parts.port  # a port that is not one raises
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https") and bool(parts.hostname) and port != 0 and not parts.path
        and not parts.query and not parts.fragment and "#" not in value and "?" not in value
    )


def _grace(value: str) -> float:
    """At least 1: below, a client that heartbeats exactly once per interval would be closed."""
    try:
        grace = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not grace >= 1.0 or grace == float("inf"):
        raise argparse.ArgumentTypeError("must be a finite number of at least 1 (e.g. 1.5)")
    return grace
SIZE = byte_size(1024, 64 * 1024**3)


def _add_limits(parser: OptionParser, d: BrokerSettings) -> None:
    """The bounds on what one client can make the broker hold (docs/limits.md)."""
    parser.add_argument(
        "--submit-queue-bytes", type=SIZE, default=d.submit_queue_bytes, metavar="SIZE",
        help="readings read from producers but not yet stored, all producers together; beyond "
        "it producers are read more slowly (default 8MiB)",
    )
    parser.add_argument(
        "--consumer-queue-bytes", type=SIZE, default=d.consumer_queue_bytes, metavar="SIZE",
        help="live frames waiting for one consumer before it catches up from the log instead; "
        "a log page read for it is a quarter of this (default 16MiB; units KiB, MiB, GiB)",
    )
    parser.add_argument(
        "--max-pending-replays", type=integer(1, 100_000), default=d.max_pending_replays, metavar="N",
        help="distinct REPLAY ranges waiting per consumer (an identical one adds nothing); past it the "
        "consumer is closed with 4007 (%(default)s)",
    )
    parser.add_argument(
        "--max-dashboards", type=integer(1, 100_000), default=d.max_dashboards, metavar="N",
        help="dashboard sessions per developer on this node; the next is closed with 4002 "
        "(%(default)s)",
    )
    parser.add_argument(
        "--dashboard-queue-bytes", type=SIZE, default=d.dashboard_queue_bytes, metavar="SIZE",
        help="frames waiting for one dashboard; beyond it frames are dropped for that tab (default 1MiB)",
    )
    parser.add_argument(
        "--max-devices-per-user", type=integer(1, 100_000), default=d.max_devices_per_user, metavar="N",
        help="devices per user known from STATUS; a new one replaces the longest-disconnected, "
        "else is ignored (%(default)s)",
    )
    parser.add_argument(
        "--presence-interval", type=seconds(60), default=d.presence_interval, metavar="S",
        help="a dashboard gets a user's presence (latest state) at most this often (%(default)s s)",
    )
    parser.add_argument(
        "--send-timeout", type=seconds(3600), default=d.send_timeout, metavar="S",
        help="a consumer or dashboard whose socket takes no frames this long is closed with 4006 "
        "(%(default)s s)",
    )
    parser.add_argument(
        "--coalesce", type=duration(1.0), default=d.coalesce, metavar="S",
        help="frames for a consumer that come within this long of its last write wait to leave "
        "together (with the next frame after it, or one more window later at most); one after "
        "a quiet spell leaves at once; 0 = every batch at once (default 2ms; s, ms or us)",
    )


def _backend(value: str) -> str:
    from .state import check_backend

    try:
        return check_backend(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _retention(value: str) -> str:
    from .state import parse_retention

    try:
        parse_retention(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return value


def settings_from_args(args: argparse.Namespace) -> BrokerSettings:
    fields = attrs.fields_dict(BrokerSettings)
    values = {name: getattr(args, name) for name in fields}
    values["cors_origin"] = _origins(values["cors_origin"] or ())
    return BrokerSettings(**values)


def _origins(given: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
    """``--cors-origin`` values (each a checked comma list) as one tuple without repeats."""
    return tuple(dict.fromkeys(origin for origins in given for origin in origins))


def run(args: argparse.Namespace) -> int:
    import trio

    configure_logging(args.log_level, args.log_format)
    settings = settings_from_args(args)
    if settings.data_dir is None and settings.backend is None:
        print(
            "wearstream broker: no --data-dir: developers, tokens and the log live in memory "
            "and are gone when the broker stops",
            file=sys.stderr,
        )
    problem = _tls_problem(settings)
    if problem is not None:
        print(f"wearstream broker: {problem}", file=sys.stderr)
        return 2
    _raise_descriptor_limit()
    trio.run(_main, settings)
    return 0


def _tls_problem(settings: BrokerSettings) -> str | None:
    """Why --certfile/--keyfile cannot serve TLS, checked before anything starts."""
    import ssl

    from ..adapters.websocket.listener import server_ssl_context

    if settings.certfile is None:
        return None if settings.keyfile is None else "--keyfile needs --certfile"
    try:
        server_ssl_context(settings.certfile, settings.keyfile)
    except ssl.SSLError as error:
        return f"cannot use {settings.certfile} / {settings.keyfile or '(key in the same file)'}: {error.reason or error}"
    except OSError as error:
        return f"cannot read {error.filename or settings.certfile}: {error.strerror}"
    return None


def _raise_descriptor_limit() -> None:
    """Lift the soft limit on open files to the hard one (as Go's runtime does), so that a
    broker started by hand is not capped at a shell's 1024; a sandbox may forbid it."""
    import resource

    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (OSError, ValueError):
        pass


async def _main(settings: BrokerSettings) -> None:
    import trio

    async with trio.open_nursery() as nursery:
        running: RunningBroker = await nursery.start(serve_broker, settings)
        gc_tuning.tune()
        print(f"wearstream broker ready ws={running.ws_url} http={running.api_url}", flush=True)
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                log.info("%s: closing every connection with 1001", signal.Signals(signum).name)
                break
        await running.broker.shutdown()
        nursery.cancel_scope.cancel()


async def serve_broker(
    settings: BrokerSettings,
    *,
    stores: "Stores | None" = None,
    task_status: "trio.TaskStatus[RunningBroker]",
) -> None:
    """Run a whole broker (stores, hub, WebSocket, HTTP) until cancelled: the broker's
    composition root (``entrypoints.bootstrap``). ``stores`` replaces the ones the settings name
    (``--data-dir``/``--backend``), e.g. with the kit's fakes; the caller then owns them."""
    import contextlib

    import trio

    from ..adapters.clock import SystemClock
    from ..adapters.http.api import build_app
    from ..adapters.http.dashboard import Dashboard
    from ..adapters.http.metrics import BrokerMetrics, MeteredTokenStore, metered_log
    from ..adapters.http.overlay import Overlay
    from ..adapters.http.overlay_feed import LiveValues
    from ..adapters.http.produce import ProducerPage
    from ..adapters.http.producer_links import ProducerLinks
    from ..adapters.websocket.broker import Broker, BrokerConfig
    from ..adapters.websocket.listener import ListenerLimits
    from ..adapters.websocket.hub import Hub
    from ..adapters.websocket.revocation import close_revoked_sessions
    from ..domain.session import SessionConfig
    from .state import open_stores, parse_retention

    lease_ttl = timedelta(seconds=settings.consumer_lease)
    opened = contextlib.nullcontext(stores) if stores is not None else open_stores(
        settings.data_dir, settings.backend, lease_ttl=lease_ttl, busy_timeout=settings.db_busy_timeout
    )
    async with opened as stores:
        metrics = BrokerMetrics()
        hub = Hub(
            metered_log(stores.log, metrics),
            max_consumers=settings.max_consumers,
            leases=stores.leases,
            limits=hub_limits(settings),
        )
        session = SessionConfig(
            settings.identify_timeout, settings.heartbeat_interval, settings.heartbeat_grace
        )
        limits = ListenerLimits(
            settings.max_connections, settings.handshake_timeout, settings.max_head_bytes,
            settings.max_message_bytes, settings.max_identify_bytes,
        )
        config = BrokerConfig(session, limits)
        broker = Broker(hub, stores.developers, stores.tokens, SystemClock(), config)
        metrics.watch(broker, hub)
        minting = MeteredTokenStore(stores.tokens, metrics)
        dashboard = Dashboard(stores.developers, minting, SystemClock())
        live_values = LiveValues(hub, settings.max_overlay_streams)
        overlay = Overlay(stores.developers, live_values, SystemClock())
        producer_links = ProducerLinks(
            stores.developers, stores.links, minting, SystemClock(),
            token_ttl=timedelta(seconds=settings.token_ttl),
            link_ttl=timedelta(seconds=settings.producer_link_ttl),
            session_ttl=timedelta(seconds=settings.producer_session_ttl),
            public_url=settings.public_url,
        )

        def health() -> dict[str, Any]:
            return {
                "connections": len(broker.connections),
                "consumers": hub.consumer_count(),
                "dashboards": hub.dashboard_count(),
                "overlay_streams": live_values.watched(),
                "payloads_in": hub.payloads_in,
                "payloads_out": hub.payloads_out,
                "persistent": stores.persistent,
                "storage": hub.storage.health(),
            }

        app = build_app(
            stores.developers,
            minting,
            token_ttl=timedelta(seconds=settings.token_ttl),
            health=health,
            routes=[
                *dashboard.routes(), *overlay.routes(), *ProducerPage().routes(), *producer_links.routes(),
                metrics.route(settings.metrics_token),
            ],
            cors_origins=settings.cors_origin,
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(hub.run)
            await nursery.start(live_values.run)
            nursery.start_soon(close_revoked_sessions, broker, stores.developers)
            if settings.retention is not None:
                retention = parse_retention(settings.retention)
                nursery.start_soon(_apply_retention, stores.log, retention, settings.retention_interval)
            running = await nursery.start(
                _serve_ports, settings, broker, app, dashboard, producer_links, hub, stores
            )
            task_status.started(running)


async def _serve_ports(
    settings: BrokerSettings,
    broker: "Broker",
    app: Any,
    dashboard: Any,
    producer_links: Any,
    hub: "Hub",
    stores: "Stores",
    *,
    task_status: "trio.TaskStatus[RunningBroker]",
) -> None:
    """The one port (WebSocket, and HTTP relayed to hypercorn on a private Unix socket), and
    the HTTP API's own port if ``--http-port`` asks for one."""
    import functools

    import trio

    from ..adapters.http.forward import Forwarder, private_socket_path, remove_socket, unix_listen_socket
    from ..adapters.http.server import (
        BACKLOG, GRACEFUL_TIMEOUT, hypercorn_config, listen_socket, serve_config, supervise,
    )
    from ..adapters.http.urls import url_host
    from ..adapters.websocket.listener import server_ssl_context

    tls = server_ssl_context(settings.certfile, settings.keyfile) if settings.certfile else None
    # --http-port equal to a fixed --port is the one port too (how a restart on the same
    # ports spells it); 0 and 0 ask for two free ports.
    same = settings.http_port is None or (settings.http_port == settings.port != 0)
    forwarder = Forwarder("", settings.http_idle_timeout, settings.max_head_bytes)
    own_port = [None if same else settings.http_port]

    async def start_http(first: bool, task_status: "trio.TaskStatus[int | None]") -> None:
        """hypercorn on a new private Unix socket (and on --http-port's port), for supervise()."""
        path = private_socket_path()
        try:
            plain = [unix_listen_socket(path, BACKLOG)]
            own = [] if own_port[0] is None else [listen_socket(settings.host, own_port[0])]
            if own:
                own_port[0] = own[0].getsockname()[1]  # port 0 binds once; restarts keep it
            config = hypercorn_config(
                own, GRACEFUL_TIMEOUT, settings.http_idle_timeout + 1.0, plain=plain,
                certfile=settings.certfile, keyfile=settings.keyfile,
            )
            forwarder.path = str(path)
            await serve_config(
                app, config, f"unix:{path}", own_port[0], level=logging.DEBUG, task_status=task_status
            )
        finally:
            remove_socket(path)

    async with trio.open_nursery() as nursery:
        http_port = await nursery.start(supervise, start_http)
        serve = functools.partial(broker.serve, http=forwarder, ssl_context=tls)
        port = await nursery.start(serve, settings.host, settings.port)
        host = url_host(settings.host)
        secure = "s" if tls is not None else ""
        dashboard.secure = producer_links.secure = tls is not None
        dashboard.ws_port = port
        api = f"http{secure}://{host}:{http_port or port}"
        log.info("listening on %s (WebSocket /connect and the HTTP API)", f"{host}:{port}")
        task_status.started(RunningBroker(f"ws{secure}://{host}:{port}/connect", api, broker, hub, stores))


def hub_limits(settings: BrokerSettings) -> HubLimits:
    return HubLimits(
        submit_queue_bytes=settings.submit_queue_bytes,
        consumer_queue_bytes=settings.consumer_queue_bytes,
        max_pending_replays=settings.max_pending_replays,
        max_dashboards=settings.max_dashboards,
        dashboard_queue_bytes=settings.dashboard_queue_bytes,
        max_devices=settings.max_devices_per_user,
        presence_interval=settings.presence_interval,
        send_timeout=settings.send_timeout,
        coalesce=settings.coalesce,
    )


async def _apply_retention(stream_log: "StreamLog", retention: "Retention", interval: float) -> None:
    """Trim the log now and then; with several nodes each one does it, which is harmless."""
    import trio

    from ..ports.storage import StorageUnavailable

    while True:
        try:
            removed = await stream_log.trim(retention, datetime.now(timezone.utc))
        except StorageUnavailable as error:
            log.warning("retention: cannot trim the log now (%s); trying again later", error)
        except Exception:  # a failed trim must not stop the broker: the next one catches up
            log.exception("retention: trimming the log failed")
        else:
            if removed:
                log.info("retention: removed %d payloads", removed)
        await trio.sleep(interval)
