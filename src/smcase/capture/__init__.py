"""Live capture: pollers that read a social medium's API and write what they saw as lines an adapter reads.

A poller keeps no database of its own: each pass takes the position the last
pass returned (plain JSON) and gives back the capture lines and the next
position. Storing both, feeding the lines to ingest and scheduling the passes
is the caller's business. ``mastodon`` reads a Mastodon account through its
REST API; its lines are the ``mastodon-api`` format.
"""
