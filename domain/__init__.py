"""The pure model of wearstream: no trio, no I/O, no imports from ports, adapters or entrypoints."""
