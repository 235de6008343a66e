"""``smcase serve``: platform webhooks received durably, then processed through the ingest pipeline.

``spool`` keeps every accepted delivery in a SQLite file of its own, committed
(in groups) before the platform gets its 200; ``worker`` feeds what is not yet
processed through the adapter and the ingest pipeline as the service user;
``webhooks`` is the ASGI application (Starlette) with the signature check, the
size limit, ``/healthz`` and ``/metrics``; ``metrics`` the Prometheus counters.
"""
