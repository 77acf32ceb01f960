"""Audio work on bytes: PyAV decoding and encoding to the stored MP3 layout,
and MPEG frame reading (the `Transcoder` port of core/ports.py)."""
