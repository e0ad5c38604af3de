"""Lab Streaming Layer: readings out to LSL outlets (sink), LSL streams in as a device (transport)."""
