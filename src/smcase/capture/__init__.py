"""Live capture: platform webhooks received by ``smcase serve`` and accounts polled by ``smcase capture``.

``config`` reads what capture is configured with (a channel's platform id,
secrets from files); ``mastodon`` is a poller that reads a Mastodon account
through its REST API and keeps no database of its own: each pass takes the
position the last one returned (plain JSON) and gives back capture lines in
the ``mastodon-api`` format and the next position; ``service`` runs a pass for
a channel (fetch, ingest, then save the position) and the pollers
``smcase serve`` keeps going.
"""
