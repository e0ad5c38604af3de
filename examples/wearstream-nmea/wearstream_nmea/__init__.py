"""wearstream-nmea: GPS receivers speaking NMEA 0183 as a wearstream transport (``nmea:PORT``)."""
