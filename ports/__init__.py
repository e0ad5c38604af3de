"""The interfaces (typing.Protocol) the application needs from the outside world."""
