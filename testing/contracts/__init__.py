"""Contract suites: every adapter of a port (stream log, stores, outbox, sink, device session)
must pass the same tests.

A plug-in author subclasses a contract once per adapter in a module pytest collects, names the
subclass ``Test…`` and implements the factory::

    from wearstream.testing.contracts import StreamLogContract

    class TestMyLog(StreamLogContract):
        persistent = True  # make_log on the same directory sees what was written before

        async def make_log(self, path):
            return await MyLog.open(path / "log.db")

The bases are not named ``Test…`` so that pytest does not collect them on their own. The suites
need pytest, pytest-trio (``trio_mode = true``) and hypothesis.
"""

from .developer_store import DeveloperStoreContract
from .devices import DeviceSessionContract
from .link_code_store import LinkCodeStoreContract
from .outbox import OutboxContract
from .shared_log import ConsumerLeasesContract, SharedStreamLogContract, SharedTokenStoreContract
from .sinks import SinkContract
from .stream_log import StreamLogContract
from .token_store import TokenStoreContract

__all__ = [
    "ConsumerLeasesContract",
    "DeveloperStoreContract",
    "DeviceSessionContract",
    "LinkCodeStoreContract",
    "OutboxContract",
    "SharedStreamLogContract",
    "SharedTokenStoreContract",
    "SinkContract",
    "StreamLogContract",
    "TokenStoreContract",
]
