"""Revoking a developer ends its sessions, on every broker process and node, within a second.

`wearstream developers revoke` only marks the developer in the store, possibly from another
process (SQLite) or through another node (Redis); nothing tells the brokers. So each broker asks
its DeveloperStore, every ``CHECK_EVERY`` seconds, which of the developers it has sessions for are
revoked: one cheap call (one query, or one Redis round trip) whatever their number, and none when
nobody is connected. Their producers, consumers and dashboards are closed with 4009. New sessions
were already refused: a revoked developer's key mints nothing (403) and its unspent tokens are
refused at IDENTIFY (4001).
"""

from __future__ import annotations

import logging

import trio

from ...domain.closecodes import CloseCode
from ...ports.storage import DeveloperStore, StorageUnavailable
from .broker import Broker

log = logging.getLogger("wearstream.broker")

CHECK_EVERY = 0.5  # seconds; a revocation ends sessions within about this long
REASON = "developer revoked"


async def close_revoked_sessions(broker: Broker, developers: DeveloperStore) -> None:
    """Run until cancelled: close the sessions of developers revoked anywhere."""
    while True:
        await trio.sleep(CHECK_EVERY)
        connected = broker.developers_connected()
        if not connected:
            continue
        try:
            revoked = await developers.revoked_among(connected)
        except StorageUnavailable as error:  # reads rarely fail; the next check tries again
            log.warning("cannot check for revoked developers now: %s", error)
            continue
        for developer_id in sorted(revoked):
            closed = await broker.close_developer(developer_id, CloseCode.DEVELOPER_REVOKED, REASON)
            log.warning("developer %s is revoked: closed its %d sessions", developer_id, closed)
