"""The ``replay`` transport: a JSON-lines recording played back as a producer device."""
