"""tap-gong: a Singer tap for Gong, built with the Meltano Singer SDK."""
