"""``RegisterService``: the one writer of cases, records, classes and users, assembled from its parts.

Each part is one concern (``writing``: registering; ``changes``: changing what is registered; ``people``: classes
and users; ``reads``: what a user may see; ``capture``: where live capture stands), and all of them stand on ``core.ServiceCore``: one engine, one acting
user, one clock, one audit chain, one place for permission checks. Callers see a single class.
"""

from __future__ import annotations

from .capture import CaptureState
from .changes import CaseChanges
from .people import People
from .writing import Writing


class RegisterService(Writing, CaseChanges, People, CaptureState):
    """The register as one acting user sees and changes it."""
