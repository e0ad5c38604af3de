"""The broker's WebSocket side: moves frames and time for the sans-I/O session machine.

Every connection gets its own nursery (reader, and for consumers a sender; for acknowledged
producers an ack sender) inside the server's handler nursery, so nothing outlives its connection,
and a connection that misbehaves is closed with the code its error carries while every other
connection carries on. One broker-wide task watches every session's deadline (a heap), instead
of a sleeping task per connection; and once identified, a connection's task waits parked while
one broker-wide task reads every such socket and handles plain readings and heartbeats itself,
waking the connection's task only for the rest (adapters/websocket/shared_reader.py): an idle
producer then costs a parked task and nothing else, and a reading no task switch.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import logging
import math
import ssl
from datetime import timezone

import attrs
import trio

from ...domain.closecodes import CloseCode
from ...domain.errors import ProtocolError, TokenError
from ...domain.frames import HeartbeatAck
from ...domain.identity import Role
from ...domain.readings import format_timestamp
from ...domain.session import (
    Action,
    Authenticate,
    Close,
    Dropped,
    Principal,
    Publish,
    Send,
    ServerSession,
    SessionConfig,
    StartReplay,
    UpdatePresence,
)
from ...ports.clock import Clock
from ...ports.storage import DeveloperStore, StorageUnavailable, TokenStore
from . import codec
from .dashboard import HEARTBEAT_ACK, DashboardQueue
from .consumer_queue import ConsumerQueue, TooManyReplays
from .framing import FrameError
from .hub import Hub
from .intake import Reading, reading_size
from .listener import HttpHandler, Listener, ListenerLimits, bound_port, open_listeners
from .server_socket import CLOSE_TIMEOUT, ConnectionClosed, Message, ServerSocket
from .shared_reader import SharedReader

log = logging.getLogger("wearstream.broker")

STORAGE_UNAVAILABLE = "storage unavailable, try again later"


@attrs.frozen
class BrokerConfig:
    session: SessionConfig = attrs.field(factory=SessionConfig)
    limits: ListenerLimits = attrs.field(factory=ListenerLimits)


class Deadlines:
    """Calls each session's tick() once its deadline has passed, from one task for the broker.

    Entries are lazy: a heartbeat moves a session's deadline later without touching the heap;
    when an entry comes due, a session whose deadline has moved is filed again at the new time.
    A deadline that moves earlier is filed again at once (Connection.reschedule), so tick() is
    never late. The tick itself runs in the connection's own nursery: a close that takes its
    time holds up no other connection.

    The heap holds connection ids, not connections: an ended connection is forgotten at once
    (``forget``), so what it held (buffers, a consumer's queue) is not kept until its entry
    would have come due (up to a heartbeat window later), whatever rate connections churn at.
    Stale entries are dropped when they outnumber the live ones."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int]] = []
        self._filed: dict[int, Connection] = {}
        self._wake = trio.CancelScope()

    def file(self, connection: Connection, deadline: float) -> None:
        self._filed[connection.id] = connection
        heapq.heappush(self._heap, (deadline, connection.id))
        if deadline < self._wake.deadline:
            self._wake.deadline = deadline

    def forget(self, connection: Connection) -> None:
        """``connection`` has ended: its entries will come due for nothing."""
        if self._filed.pop(connection.id, None) is None:
            return
        if len(self._heap) > 2 * len(self._filed) + 64:
            self._heap = [entry for entry in self._heap if entry[1] in self._filed]
            heapq.heapify(self._heap)

    def __len__(self) -> int:
        """Heap entries, stale ones included (a test bounds them)."""
        return len(self._heap)

    async def run(self) -> None:
        while True:
            with trio.CancelScope(deadline=self._heap[0][0] if self._heap else math.inf) as self._wake:
                await trio.sleep_forever()
            self.call_due(trio.current_time())

    def call_due(self, now: float) -> None:
        """Tell each live connection whose entry is due by ``now``."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, connection_id = heapq.heappop(heap)
            connection = self._filed.get(connection_id)
            if connection is not None and not connection.ended:
                connection.deadline_due(now)


class Broker:
    """Accepts connections at ``/connect`` and runs one Connection per socket."""

    def __init__(
        self,
        hub: Hub,
        developers: DeveloperStore,
        tokens: TokenStore,
        clock: Clock,
        config: BrokerConfig = BrokerConfig(),
    ) -> None:
        self.hub = hub
        self.developers = developers
        self.tokens = tokens
        self.clock = clock
        self.config = config
        self.connections: set[Connection] = set()
        # identified sessions here by developer, kept as they begin and end: the revocation
        # check asks twice a second, and a walk over every connection costs a pause per ask
        self._sessions_of: collections.Counter[str] = collections.Counter()
        self.closes: dict[int, int] = {}
        self.dropped: dict[str, int] = {}  # frames dropped without closing, by op name
        self.replay_requests = 0
        self.deadlines = Deadlines()
        self.shared = SharedReader()
        self.listeners: list[Listener] = []
        self._ids = itertools.count(1)

    async def serve(
        self,
        host: str,
        port: int,
        *,
        http: HttpHandler | None = None,
        ssl_context: ssl.SSLContext | None = None,
        task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen until cancelled; reports the bound port (``port`` may be 0). Requests other
        than a WebSocket handshake go to ``http`` (one origin); without it they get a 404."""
        listeners = await open_listeners(host, port)
        listener = Listener(self.accept, http, limits=self.config.limits, ssl_context=ssl_context)
        self.listeners.append(listener)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.deadlines.run)
            await nursery.start(self.shared.run)
            await nursery.start(listener.serve, listeners)
            task_status.started(bound_port(listeners))

    async def shutdown(self, code: CloseCode = CloseCode.GOING_AWAY, reason: str = "server shutting down") -> None:
        """Stop accepting, then close every connection with ``code`` (concurrently, each
        bounded in time)."""
        for listener in self.listeners:
            listener.stop_accepting()
        await trio.sleep(0)  # the accept loops close their sockets
        async with trio.open_nursery() as nursery:
            for connection in list(self.connections):
                nursery.start_soon(connection.close, code, reason)

    def developers_connected(self) -> set[str]:
        """The developers with an identified session here (producer, consumer or dashboard)."""
        return set(self._sessions_of)

    def session_identified(self, developer_id: str) -> None:
        """A session of ``developer_id`` is READY here (Connection._become_ready, once each)."""
        self._sessions_of[developer_id] += 1

    def _session_ended(self, connection: Connection) -> None:
        developer_id = connection.identified_as
        if developer_id is not None:
            self._sessions_of[developer_id] -= 1
            if self._sessions_of[developer_id] <= 0:
                del self._sessions_of[developer_id]

    async def close_developer(self, developer_id: str, code: CloseCode, reason: str) -> int:
        """Close every session of ``developer_id`` with ``code`` (concurrently); how many."""
        sessions = [
            c for c in list(self.connections)
            if c.principal is not None and c.principal.developer_id == developer_id
        ]
        async with trio.open_nursery() as nursery:
            for connection in sessions:
                nursery.start_soon(connection.close, code, reason)
        return len(sessions)

    async def accept(self, ws: ServerSocket) -> None:
        """Run one WebSocket, handshake done, until it ends (the listener's fault boundary
        around it catches what escapes; a bug in the protocol code is closed with 1011)."""
        connection = Connection(self, ws, next(self._ids))
        self.connections.add(connection)
        connection.log_event("connect", "connection opened", peer=ws.remote)
        try:
            await connection.run()
        except Exception:  # a bug met by one connection must not take the broker down
            log.exception("connection failed; closing it with 1011")
            await ws.aclose(CloseCode.INTERNAL_ERROR, "internal error")  # within CLOSE_TIMEOUT
        finally:
            self.connections.discard(connection)
            self._session_ended(connection)


class Connection:
    """One socket: feeds frames and deadlines to the session and carries out its actions."""

    def __init__(self, broker: Broker, ws: ServerSocket, conn_id: int = 0) -> None:
        self.broker = broker
        self.ws = ws
        self.id = conn_id
        self.session = ServerSession(broker.config.session)
        self.queue: ConsumerQueue | DashboardQueue | None = None
        self._linked: tuple[str, str] | None = None  # (developer, user) of a producer, for presence
        self._acked_upto = -1
        self._published_key = -1  # the highest SUBMIT id handed to the hub on this connection
        self._dropped_key = -1  # a dropped SUBMIT's id, acknowledged once all before it are
        self.drops = 0
        self._ack_wanted: trio.Event | None = None  # the ack sender's wake, made by it (acks only)
        self._ack_sent = -1
        self._publishing = False  # the reader hands readings to the hub: it sends the ack itself
        self._nursery: trio.Nursery | None = None
        self._closing = False
        self._filed_at = math.inf  # the deadline the broker's heap holds for this session
        self.ended = False
        self.identified_as: str | None = None  # the developer, once counted as identified
        # what the shared reader left for this task: messages, where to go on, readings, actions
        self._resume: tuple[list[Message], int, list[Reading], list[Action] | None] | None = None

    @property
    def principal(self) -> Principal | None:
        return self.session.principal

    async def run(self) -> None:
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                await self._perform(self.session.connected(trio.current_time()))
                self.reschedule()
                await self._read()
                if not self._closing:
                    nursery.cancel_scope.cancel()
                else:  # a close under way (maybe another task's, as at shutdown): let it finish
                    await self._drain()
        except* ConnectionClosed:  # from any task of the connection, so maybe in a group
            pass
        finally:
            self.ended = True
            self.broker.deadlines.forget(self)
            if self.queue is not None:
                self.broker.hub.remove_consumer(self.queue)
                self.queue.release()
            if self._linked is not None:
                self.broker.hub.link_changed(*self._linked, -1, self.id)
            if not self._closing:  # the client closed, or the socket broke
                closed = self.ws.closed
                code, reason = (closed.code, closed.reason) if closed else (None, "connection lost")
                self.log_event(
                    "close", "closed by the client", code=code, reason=reason, by="client", drops=self.drops
                )

    async def _read(self) -> None:
        """Feed each received message to the session. Once identified, the connection's task
        waits in the broker's shared reader, which hands plain readings and heartbeats to
        ``handle_shared`` and wakes this task for everything else
        (adapters/websocket/shared_reader.py)."""
        shared = self.broker.shared
        while not self._closing:
            if self.principal is not None and shared.available and not self.ws.unparsed:
                await shared.wait(self)
                if self._closing:
                    return
                if self._resume is not None:
                    messages, start, readings, actions = self._resume
                    self._resume = None
                    await self._handle(messages, trio.current_time(), start, readings, actions)
                    continue
            try:
                messages = await self.ws.receive_messages()
            except ConnectionClosed:
                return
            except FrameError as error:  # broken RFC 6455 framing: 1002, 1007 or 1009
                await self.close(CloseCode(error.code), error.reason)
                return
            await self._handle(messages, trio.current_time())

    async def _handle(
        self,
        messages: list[Message],
        now: float,
        start: int = 0,
        readings: list[Reading] | None = None,
        actions: list[Action] | None = None,
    ) -> None:
        """Carry out ``messages[start:]``, after ``actions`` (of the message before ``start``)
        with ``readings`` (of the ones before it) pending. The readings of one receive go to
        the hub together (one hand-over, not one per reading), before any close they precede."""
        readings = [] if readings is None else readings
        while True:
            if actions is not None:
                if readings and any(isinstance(action, Close) for action in actions):
                    await self._publish(readings)
                    readings = []
                await self._perform(actions)
                if self._closing:
                    return
            if start >= len(messages) or self._closing:  # a close under way: nothing more
                break
            start, actions = self._digest(messages, start, now, readings)
        if readings and not self._closing:
            await self._publish(readings)
        self.reschedule()

    def _digest(
        self, messages: list[Message], start: int, now: float, readings: list[Reading]
    ) -> tuple[int, list[Action] | None]:
        """Feed ``messages[start:]`` to the session, adding plain SUBMITs to ``readings``, up to
        the first message with other actions: (the index after it, its actions), or
        (len(messages), None) when every one was a plain reading."""
        session = self.session
        for index in range(start, len(messages)):
            message = messages[index]
            try:
                frame = codec.decode(message, codec.FROM_CLIENTS)
            except ProtocolError as error:
                actions = session.failed(error)
            else:
                actions = session.received(frame, now)
            if len(actions) == 1 and type(actions[0]) is Publish:
                readings.append(self._reading(actions[0], len(message)))
            else:
                return index + 1, actions
        return len(messages), None

    def handle_shared(self, messages: list[Message], now: float) -> bool:
        """In the shared reader's task (``now``: its clock read for this pass): handle
        ``messages`` if they are plain readings that can be stored now without waiting, and
        heartbeats whose ack needs no wait; else keep them (``_resume``) for this connection's
        task, and say False to wake it."""
        if self._closing:
            return False
        readings: list[Reading] = []
        start, actions = self._digest(messages, 0, now, readings)
        while actions is not None and self._ack_heartbeat_now(actions):
            start, actions = self._digest(messages, start, now, readings)
        if actions is None and (not readings or self._publish_now(readings)):
            # A reading leaves the session's deadline as it was, and a heartbeat only moves it
            # later (the broker's heap finds that lazily): nothing to refile.
            return True
        self._resume = (messages, start, readings, actions)
        return False

    def _ack_heartbeat_now(self, actions: list[Action]) -> bool:
        """Carry out ``actions`` if they are a heartbeat's ack that needs no wait: queued behind
        a consumer's writes, or written to a producer at once (the rest of a partial write is
        finished in this connection's nursery, as for SUBMIT_ACK). False: the task does it."""
        if len(actions) != 1:
            return False
        action = actions[0]
        if type(action) is not Send or type(action.frame) is not HeartbeatAck:
            return False
        if self.queue is not None:
            self.queue.heartbeat_ack()
            return True
        sent = self.ws.send_now([HEARTBEAT_ACK])
        if sent is False:
            return False
        if sent is not True:
            assert self._nursery is not None and isinstance(sent, bytes)
            self._nursery.start_soon(self.ws.finish_send, sent)
        return True

    def _publish_now(self, readings: list[Reading]) -> bool:
        """Hand ``readings`` to the hub if that needs no wait (an inline append to a memory
        log, or room in the intake), and send the ack that is due if the socket takes it now
        (else the ack sender does); False when this connection's task must do it."""
        self._publishing = True
        try:
            if not self.broker.hub.publish_now(readings):
                return False
        finally:
            self._publishing = False
        if self._acked_upto > self._ack_sent:
            sent = self.ws.send_now([codec.submit_ack(self._acked_upto)])
            if sent is False:
                self._wake_ack_sender()
                return True
            self._ack_sent = self._acked_upto
            if sent is not True:  # the kernel took part of it: the rest goes before anything else
                assert self._nursery is not None and isinstance(sent, bytes)
                self._nursery.start_soon(self.ws.finish_send, sent)
        return True

    async def _drain(self) -> None:
        """Read and drop what still comes while our close is under way, so that the peer's close
        frame is seen and the handshake ends (bounded by the close's own timeout)."""
        try:
            while True:
                await self.ws.receive_messages()
        except (ConnectionClosed, FrameError):
            pass

    def reschedule(self) -> None:
        """File the session's deadline with the broker if it is now earlier than the one filed
        (later ones are found lazily when the filed one comes due)."""
        deadline = self.session.deadline()
        if deadline < self._filed_at:
            self._filed_at = deadline
            self.broker.deadlines.file(self, deadline)

    def deadline_due(self, now: float) -> None:
        """The filed deadline has come (called by the broker's deadline task): file the session's
        current one if a heartbeat moved it, else let the session decide what passing it means."""
        self._filed_at = math.inf
        if self.session.deadline() > now:
            self.reschedule()
        elif self._nursery is not None and not self._closing:
            self._nursery.start_soon(self._tick)

    async def _tick(self) -> None:
        await self._perform(self.session.tick(trio.current_time()))
        self.reschedule()

    async def _perform(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                if isinstance(action.frame, HeartbeatAck) and self.queue is not None:
                    self.queue.heartbeat_ack()  # behind the queue's write: the reader goes on
                else:
                    await self.ws.send_message(codec.encode(action.frame))
            elif isinstance(action, Publish):
                size = reading_size(action.user_id, action.t, action.d)
                await self._publish([self._reading(action, size)])
            elif isinstance(action, StartReplay):
                assert isinstance(self.queue, ConsumerQueue)
                self.broker.replay_requests += 1
                try:
                    self.queue.replay(action.range)
                except TooManyReplays as error:
                    await self.close(CloseCode.TOO_MANY_REPLAYS, str(error))
            elif isinstance(action, UpdatePresence):
                hub = self.broker.hub
                hub.update_presence(action.developer_id, action.user_id, action.status, self.id)
            elif isinstance(action, Authenticate):
                await self._authenticate(action)
            elif isinstance(action, Dropped):
                self._dropped(action)
            elif isinstance(action, Close):
                await self.close(action.code, action.reason)

    def _reading(self, action: Publish, size: int) -> Reading:
        """A Reading for the hub; ``size``: its SUBMIT frame's, counted against the hub's bytes."""
        d = action.d
        if action.needs_timestamp:  # no ts, or "ts": null
            stamp = format_timestamp(self.broker.clock.now())
            d = {"ts": stamp, **{k: v for k, v in d.items() if k != "ts"}}
        ack = None
        key = action.key
        if key is not None and self.session.wants_acks:
            ack = self
            if key.counter > self._published_key:
                self._published_key = key.counter
        return Reading(action.developer_id, action.user_id, action.t, d, key, ack, size)

    async def _publish(self, readings: list[Reading]) -> None:
        """Hand ``readings`` to the hub; what it stored meanwhile (all of them, with a memory
        log) is acknowledged from here, without waking the ack sender."""
        self._publishing = True
        try:
            await self.broker.hub.publish_many(readings)
        except StorageUnavailable:
            await self.close(CloseCode.TRY_AGAIN_LATER, STORAGE_UNAVAILABLE)
            return
        finally:
            self._publishing = False
        if self._acked_upto > self._ack_sent:
            self._ack_sent = self._acked_upto
            await self.ws.send_message(codec.submit_ack(self._ack_sent))

    def _dropped(self, action: Dropped) -> None:
        """Count a dropped frame and say why: the first drop of a connection at warning level,
        the rest at debug (a client sending garbage in a loop must not flood the log); the
        count is in the connection's close line."""
        name = action.op.name
        self.broker.dropped[name] = self.broker.dropped.get(name, 0) + 1
        self.drops += 1
        level = logging.WARNING if self.drops == 1 else logging.DEBUG
        self.log_event("drop", f"dropped a {name} frame", level, op=name, reason=action.reason)
        if action.key is not None and self.session.wants_acks:
            self._dropped_key = max(self._dropped_key, action.key.counter)
            self._ack_dropped()

    def _ack_dropped(self) -> None:
        """Acknowledge a dropped SUBMIT once every SUBMIT before it is stored: acks are
        cumulative, so acknowledging it earlier would vouch for readings still on their way."""
        if self._dropped_key > self._acked_upto and self._acked_upto >= self._published_key:
            self.stored(self._dropped_key)

    async def _authenticate(self, action: Authenticate) -> None:
        """Check the token, admit the session, and only then spend the token: a token refused
        for a reason of the broker's (the consumer cap, storage unavailable: 1013) still works
        on the next attempt."""
        if action.role is Role.PRODUCER and not self.broker.hub.storage.ok:
            await self._perform(self.session.rejected(CloseCode.TRY_AGAIN_LATER, STORAGE_UNAVAILABLE))
            return
        try:
            await self._admit(action)
        except StorageUnavailable:  # a token read, a lease taken (Redis), or the spend itself
            if self.queue is not None:
                self.broker.hub.remove_consumer(self.queue)
                self.queue = None
            await self._perform(self.session.rejected(CloseCode.TRY_AGAIN_LATER, STORAGE_UNAVAILABLE))

    async def _admit(self, action: Authenticate) -> None:
        try:
            principal = await self._check_token(action.token, action.role)
        except TokenError as error:
            await self._perform(self.session.rejected(CloseCode.INVALID_TOKEN, str(error)))
            return
        if principal.role is Role.DASHBOARD:
            await self._watch(principal, action.token)
            return
        latest = None
        if principal.role is Role.CONSUMER:
            hub = self.broker.hub
            await hub.open_developer(principal.developer_id)
            self.queue = await hub.admit_consumer(principal.developer_id, self.session.extensions)
            if self.queue is None:
                reason = f"consumer session cap reached ({hub.max_consumers} per developer)"
                await self._perform(self.session.rejected(CloseCode.CONSUMER_CAP, reason))
                return
        if not await self._spend(action.token):
            return
        if isinstance(self.queue, ConsumerQueue):
            assert self._nursery is not None
            latest = self.queue.position()
            self._nursery.start_soon(self.queue.run, self.ws.send_messages, self._too_slow, self.ws)
        elif self.session.wants_acks:
            assert self._nursery is not None
            self._nursery.start_soon(self._send_acks)
        if principal.role is Role.PRODUCER:
            assert principal.user_id is not None
            self._linked = (principal.developer_id, principal.user_id)
            self.broker.hub.link_changed(*self._linked, +1, self.id)
        await self._become_ready(principal, latest)

    async def _spend(self, token: str) -> bool:
        """Take the token now that the session is admitted; False (and closed with 4001) when
        another connection spent it meanwhile."""
        if await self.broker.tokens.take(token) is not None:
            return True
        if self.queue is not None:
            self.broker.hub.remove_consumer(self.queue)
            self.queue = None
        await self._perform(self.session.rejected(CloseCode.INVALID_TOKEN, "token already used"))
        return False

    async def _watch(self, principal: Principal, token: str) -> None:
        """A dashboard (extension): READY, then live frames and presence through a lossy queue."""
        hub = self.broker.hub
        await hub.open_developer(principal.developer_id)
        queue = await hub.add_dashboard(principal.developer_id)
        if queue is None:
            reason = f"dashboard cap reached ({hub.limits.max_dashboards} per developer)"
            await self._perform(self.session.rejected(CloseCode.CONSUMER_CAP, reason))
            return
        self.queue = queue  # from here on removed from the hub when the connection ends
        if not await self._spend(token):
            return
        await self._become_ready(principal)  # READY before any PRESENCE
        assert self._nursery is not None
        self._nursery.start_soon(queue.run, self.ws.send_messages, self._too_slow)

    def _too_slow(self, reason: str) -> None:
        """The queue's write has waited too long: close with SLOW_CONSUMER (in the background,
        so the queue's sender is not the one waiting for the close). The close frame is queued
        behind the stalled write: a peer that reads again within --send-timeout still gets it."""
        if self._nursery is not None:
            timeout = max(CLOSE_TIMEOUT, self.broker.hub.limits.send_timeout)
            self._nursery.start_soon(self.close, CloseCode.SLOW_CONSUMER, reason, timeout)

    async def _become_ready(self, principal: Principal, latest: int | None = None) -> None:
        """Send READY, the full message limit taken first (a larger message that came right
        behind the IDENTIFY waits in the buffer for it); then, unless the session closed
        meanwhile, count and log it once."""
        self.ws.allow_messages(self.broker.config.limits.max_message_bytes)
        await self._perform(self.session.identified(principal, latest))
        if self.principal is not None and self.identified_as is None:  # not closed meanwhile
            self.identified_as = principal.developer_id
            self.broker.session_identified(principal.developer_id)
            self.log_event("identify", "identified", role=principal.role.name.lower())

    def log_event(self, event: str, message: str, level: int = logging.INFO, **fields: object) -> None:
        """One structured line per connection event, with the developer and user once known
        (adapters/logging_json.py renders the fields as JSON or as readable text)."""
        if not log.isEnabledFor(level):
            return
        who = self.principal
        fields = {
            "event": event,
            "conn": self.id,
            "developer": who.developer_id if who else None,
            "user": who.user_id if who else None,
            **fields,
        }
        log.log(level, message, extra={"fields": fields})

    async def _check_token(self, value: str, role: Role) -> Principal:
        """Who the token stands for, if it may IDENTIFY as ``role`` now (it is not spent here)."""
        token = await self.broker.tokens.peek(value)
        if token is None:
            raise TokenError("unknown or already used token")
        token.check(role, self.broker.clock.now().astimezone(timezone.utc))
        developer = await self.broker.developers.get(token.developer_id)
        if developer is None or developer.revoked:
            raise TokenError("the token's developer is revoked")
        return Principal(token.role, token.developer_id, token.user_id)

    # Acknowledged submits (extension) --------------------------------------------------------

    def stored(self, submit_id: int) -> None:
        if submit_id > self._acked_upto:
            self._acked_upto = submit_id
            if not self._publishing:
                self._wake_ack_sender()
            self._ack_dropped()

    async def _send_acks(self) -> None:
        """Acks for what the hub's writer stored later (a durable log's, or after a wait)."""
        while True:
            if self._acked_upto > self._ack_sent:
                self._ack_sent = self._acked_upto
                await self.ws.send_message(codec.submit_ack(self._ack_sent))
                continue
            self._ack_wanted = trio.Event()
            await self._ack_wanted.wait()

    def _wake_ack_sender(self) -> None:
        if self._ack_wanted is not None:
            self._ack_wanted.set()

    # Closing ---------------------------------------------------------------------------------

    async def close(self, code: CloseCode, reason: str, timeout: float = CLOSE_TIMEOUT) -> None:
        """Close with ``code`` and ``reason`` and stop every task of this connection; the close
        handshake gets ``timeout`` seconds."""
        if self._closing:
            return
        self._closing = True
        self.broker.closes[int(code)] = self.broker.closes.get(int(code), 0) + 1
        self.log_event(
            "close", "closed by the broker", code=int(code), reason=reason, by="server", drops=self.drops
        )
        await self.ws.aclose(int(code), reason, timeout)
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()
