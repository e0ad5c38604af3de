"""A public testing kit: emulated peers, fakes at the ports, and contract suites.

- pytest fixtures (a pytest plug-in, active once wearstream is installed): ``wearstream_broker``
  (a real in-process broker on free ports with a developer, token helpers, producers and
  consumers), ``fake_device``, ``device_events``, ``fake_sink``; see ``testing/pytest_plugin.py``.
- fakes at the ports: ``fake_feed.FakeFeed`` (the consumer's link to the broker:
  ``connect_consumer(link=feed.link)``), ``fake_broker_link.FakeBrokerLink``,
  ``fake_tokens.FakeTokenProvider``, ``fake_scanner.FakeScanner``, ``fake_shared.SharedMemory``
  (a shared stream log and consumer leases), ``fake_device.FakeDevice``, ``memory_sink.MemorySink``;
  docs/architecture.md lists each port with its adapters, fake and contract suite.
- contract suites for every port: ``wearstream.testing.contracts``.
- emulated peers: ``wearstream.testing.bluez`` (BlueZ on a private D-Bus), ``wearstream.testing.ant_stick``
  (a USB ANT stick on a pseudo-terminal), ``wearstream.testing.broker_process`` and
  ``wearstream.testing.redis_server`` (real processes on free ports).

docs/testing-kit.md walks through them.
"""
