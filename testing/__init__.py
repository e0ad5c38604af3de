"""A public testing kit: emulated peers, fakes at the ports, and contract suites."""
