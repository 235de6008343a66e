"""Ingest: social-media input → inbox → classification → decision → register.

Every input item ends in exactly one place, and the summary adds up:
``received = stored + duplicates + skipped + quarantined``. Stored events are
``trivial`` (kept and searchable, NOR-4), ``registered`` (a record in a case) or
``held`` for review (a classifier or decision plugin failed on them: never
decided as trivial, so a broken plugin cannot let a confidential post through
unmarked).

Work is done in batches: parse up to ``batch_size`` items, look their keys up
in one query, classify and decide them, then write the events, quarantine rows,
cases and records of the batch in one transaction through
``RegisterService.write_batch``. Nothing is committed per event.

The thread rule (VIM-6b, REN-1): when the municipality's own account replies
(direction ``out``) to a comment from the public, that comment is registered,
with the reply, in a case for the thread: the thread's open case if it has one,
else a new case.
"""

from .batch import TEXTS, Summary, render_capture
from .pipeline import Ingest
from .reading import guarded
from .storing import index_for_search, stored_event

__all__ = ["TEXTS", "Ingest", "Summary", "guarded", "index_for_search", "render_capture", "stored_event"]
