"""The airlock's HTTP API (FastAPI): thin routes over :mod:`airlock.service`."""
