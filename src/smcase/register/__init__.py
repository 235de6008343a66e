"""The register service: the only code that writes cases, records, classes and users.

Numbering, audit, permission checks and confidentiality markings live here
once. Each write is one transaction: the diary number is allocated, the rows
inserted and the audit entry appended together, or nothing happens at all (so
a failure never burns a number). Every read leaves through ``access.Access``.

Typical use::

    service = RegisterService.open(engine, user="anna")
    case = service.open_case(CaseSpec(title="Synpunkt på snöröjningen"))
    service.add_record(case.diary_number, RecordSpec(direction="incoming", title="Kommentar på Facebook"))
"""

from .core import acting_username, create_register
from .service import RegisterService
from .specs import (
    DIRECTION_ALIASES,
    CasePlan,
    CaseSpec,
    ClassView,
    OpenedCase,
    Party,
    RecordSpec,
    RegisterInfo,
    Source,
    UserView,
    WrittenCase,
    WrittenRecord,
)

__all__ = [
    "DIRECTION_ALIASES", "CasePlan", "CaseSpec", "ClassView", "OpenedCase", "Party", "RecordSpec", "RegisterInfo",
    "RegisterService", "Source", "UserView", "WrittenCase", "WrittenRecord", "acting_username", "create_register",
]
