"""A demo register: a realistic handful of social-media cases, built through the service.

Everything here goes through ``RegisterService`` exactly as a registrar's
commands would, so the demo doubles as an end-to-end check of the core. The
identity number in the confidential example is Skatteverket's well-known test
number 19121212-1212 (SE) or a synthetic fødselsnummer (NO), never a real person's.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from .channels import Channels
from .events import ParseContext
from .ingest import Ingest
from .plan import load_plan
from .plugins import create_plugins
from .policy import load_file
from .register import CaseSpec, Party, RecordSpec, RegisterService, Source, create_register
from .resources import default_policy
from .store import FileStore


@dataclass(frozen=True)
class DemoStep:
    """One thing the demo did, for the report it prints."""

    number: str
    what: str


_TEXT: dict[str, dict[str, Any]] = {
    "SE": {
        "name": "Exempelby kommun (demo)",
        "org": "212000-1769",
        "officer": ("erik", "Erik Lund", "Gatuingenjör", "Samhällsbyggnad"),
        "comms": ("sara", "Sara Holm", "Kommunikatör", "Kommunikation"),
        "complaint": ("Klagomål på snöröjningen på Storgatan", "Kommentar på Facebook om osandad gångbana",
                      "Svar: gångbanan sandas under förmiddagen", "Gångbanan på Storgatan är inte sandad, någon kommer att halka!"),
        "secret": ("Inlägg med personnummer på kommunens Facebooksida", "Inlägg som röjer personnummer",
                   "Inlägget avpublicerat på Facebook", "Min granne 19121212-1212 får hemtjänst men ingen kommer!"),
        "threat": ("Hot mot tjänsteperson i kommentar på Instagram", "Bevis: kommentar med hot",
                   "Kommentaren borttagen från Instagram", "Jag vet var du bor, akta dig."),
        "question": ("Fråga om öppettider för återvinningscentralen", "Fråga i kommentar på Facebook",
                     "Svar med öppettider", "Har återvinningscentralen öppet på lördag?"),
        "reopen": "Medborgaren återkom med en följdfråga",
        "citizen": "Medborgare",
        "ground": "osl-21-3",
        "class_complaint": "1.4.4",
    },
    "NO": {
        "name": "Eksempelby kommune (demo)",
        "org": "964903123",
        "officer": ("erik", "Erik Lund", "Saksbehandler", "Teknisk drift"),
        "comms": ("sara", "Sara Holm", "Kommunikasjonsrådgiver", "Servicetorget"),
        "complaint": ("Klage på brøyting i Storgata", "Kommentar på Facebook om ubrøytet fortau",
                      "Svar: fortauet brøytes i formiddag", "Fortauet i Storgata er ikke brøytet, noen kommer til å falle!"),
        "secret": ("Innlegg med fødselsnummer på kommunens Facebookside", "Innlegg som røper fødselsnummer",
                   "Innlegget avpublisert på Facebook", "Naboen min 01010012356 får ikke hjemmetjeneste!"),
        "threat": ("Trussel mot ansatt i kommentar på Instagram", "Bevis: kommentar med trussel",
                   "Kommentaren slettet fra Instagram", "Jeg vet hvor du bor, pass deg."),
        "question": ("Spørsmål om åpningstider for gjenbruksstasjonen", "Spørsmål i kommentar på Facebook",
                     "Svar med åpningstider", "Har gjenbruksstasjonen åpent på lørdag?"),
        "reopen": "Innbyggeren kom tilbake med et oppfølgingsspørsmål",
        "citizen": "Innbygger",
        "ground": "offl-26-5",
        "class_complaint": "076",
    },
}


# A page's comment feed in smcase's JSON Lines: a question the municipality answers, a
# personnummer, a threat, praise, a reaction and one line that is not JSON.
_PLAN = {
    "SE": """[channel]
platform = "facebook"
url = "https://www.facebook.com/exempelby"
name = "Exempelby kommun på Facebook"
owner = "Kommunikationsenheten"
purpose = "Samhällsinformation och dialog med invånarna"
target_group = "Invånare och besökare"
goals = ["Svar inom en arbetsdag"]
monitoring_hours = "Vardagar 08-16"
weekly_hours = 5
contact = "kommunikation@exempelby.example"

[[administrators]]
name = "Sara Holm"
email = "sara.holm@exempelby.example"
phone = "0560-100 01"

[[administrators]]
name = "Erik Lund"
email = "erik.lund@exempelby.example"
phone = "0560-100 02"

[checklist]
""",
}
_PLAN["NO"] = (_PLAN["SE"].replace("exempelby", "eksempelby").replace("Exempelby kommun på", "Eksempelby kommune på")
               .replace("Samhällsinformation och dialog med invånarna", "Informasjon og dialog med innbyggerne")
               .replace("Invånare och besökare", "Innbyggere").replace("Svar inom en arbetsdag", "Svar samme dag")
               .replace("Kommunikationsenheten", "Servicetorget").replace("Vardagar", "Hverdager")
               .replace("0560-100", "72 42 81"))

_FEED = {
    "SE": [
        ("p1", "post", "out", "Kommunen", None, "Biblioteket har nya öppettider från måndag."),
        ("c1", "comment", "in", "Lena Ek", "p1", "Varför stänger biblioteket redan kl. 16 på fredagar?"),
        ("r1", "comment", "out", "Kommunen", "c1", "Hej Lena! Personalen går på utbildning, det gäller bara i mars."),
        ("c2", "comment", "in", "Jonas Berg", "p1", "Min son 20101010-1010 har inte fått sitt lånekort."),
        ("c3", "comment", "in", "Anonym", "p1", "Jag vet var du bor, bibliotekarien."),
        ("c4", "comment", "in", "Maja Lind", "p1", "Tack, så bra!"),
        ("c5", "reaction", "in", "Ola Nyman", "p1", None),
    ],
    "NO": [
        ("p1", "post", "out", "Kommunen", None, "Biblioteket har nye åpningstider fra mandag."),
        ("c1", "comment", "in", "Lena Ek", "p1", "Hvorfor stenger biblioteket allerede kl. 16 på fredager?"),
        ("r1", "comment", "out", "Kommunen", "c1", "Hei Lena! De ansatte er på kurs, det gjelder bare i mars."),
        ("c2", "comment", "in", "Jonas Berg", "p1", "Sønnen min 01010012356 har ikke fått lånekort."),
        ("c3", "comment", "in", "Anonym", "p1", "Jeg vet hvor du bor, bibliotekar."),
        ("c4", "comment", "in", "Maja Lind", "p1", "Takk, så bra!"),
        ("c5", "reaction", "in", "Ola Nyman", "p1", None),
    ],
}


def _feed(country: str) -> bytes:
    lines = [json.dumps({"platform": "facebook", "id": i, "kind": kind, "direction": direction,
                         "channel": "https://www.facebook.com/exempelby", "author": {"id": name, "name": name},
                         "text": text, "in_reply_to": parent, "created_at": f"2026-03-0{n + 1}T10:00:00+01:00"},
                        ensure_ascii=False)
             for n, (i, kind, direction, name, parent, text) in enumerate(_FEED[country])]
    return ("\n".join(lines) + '\n{"platform": "facebook", "id": "c6" "text": "broken line"}\n').encode()


def build_demo(engine: Engine, files: FileStore, *, country: str = "SE", user: str = "anna") -> list[DemoStep]:
    """Create a demo register in the empty database behind ``engine`` and fill it."""
    t = _TEXT[country]
    policy = load_file(default_policy(country))
    create_register(engine, name=t["name"], policy=policy, user=user, org_number=t["org"])
    admin = RegisterService.open(engine, user=user, files=files)
    for username, full_name, title, unit in (t["officer"], t["comms"]):
        roles = ["officer"] if username == "erik" else ["communications", "officer"]
        admin.add_user(username, roles, full_name=full_name, job_title=title, unit=unit)
    officer = RegisterService.open(engine, user=t["officer"][0], files=files)
    steps: list[DemoStep] = []

    def citizen(platform: str) -> str:
        return f"{t['citizen']} ({platform.capitalize()})"

    def post(platform: str, post_id: str, text: str) -> tuple[Source, tuple[str, bytes]]:
        url = f"https://{platform}.example/exempelby/posts/{post_id}"
        capture = f"{platform} {post_id}\n{url}\n\n{text}\n".encode()
        return Source(platform, post_id, url, citizen(platform)), (f"{platform}-{post_id}.txt", capture)

    # A complaint in a comment, answered by the municipality (VIM-6b, REN-1).
    title, incoming, reply, text = t["complaint"]
    case = officer.open_case(CaseSpec(title=title, class_code=t["class_complaint"], owner_unit=t["officer"][3]))
    source, capture = post("facebook", "1001", text)
    officer.add_record(case.diary_number, RecordSpec("in", incoming, parties=[Party("sender", source.author or "")],
                                                     source=source, attachments=[capture], kind="social_post"))
    officer.add_record(case.diary_number, RecordSpec("out", reply, parties=[Party("recipient", source.author or "")],
                                                     kind="social_post"))
    officer.update_case(case.diary_number, status="in_progress")
    steps.append(DemoStep(case.diary_number, "complaint from a Facebook comment, answered, in progress"))

    # A post revealing an identity number: confidential case, unpublished (RAT-9, TOR-9, REN-5).
    title, incoming, done, text = t["secret"]
    case = admin.open_case(CaseSpec(title=title, confidential=t["ground"]))
    source, capture = post("facebook", "1002", text)
    admin.add_record(case.diary_number, RecordSpec("in", incoming, confidential=t["ground"], source=source,
                                                   parties=[Party("sender", source.author or "")], attachments=[capture],
                                                   kind="social_post"))
    admin.add_record(case.diary_number, RecordSpec("memo", done, kind="unpublished"))
    admin.close_case(case.diary_number)
    steps.append(DemoStep(case.diary_number, f"confidential post ({case.confidentiality}), unpublished, closed"))

    # A threat: evidence first, then removal (VIM-6c, NOR-8, REN-2).
    title, evidence, removed, text = t["threat"]
    case = admin.open_case(CaseSpec(title=title))
    source, capture = post("instagram", "2001", text)
    admin.add_record(case.diary_number, RecordSpec("in", evidence, source=source, attachments=[capture],
                                                   parties=[Party("sender", source.author or "")], kind="evidence"))
    admin.add_record(case.diary_number, RecordSpec("memo", removed, kind="removed"))
    admin.close_case(case.diary_number)
    steps.append(DemoStep(case.diary_number, "threat captured as evidence, then removed, closed"))

    # A question answered and closed, then reopened when the citizen came back.
    title, incoming, reply, text = t["question"]
    case = officer.open_case(CaseSpec(title=title, class_code=t["class_complaint"]))
    source, capture = post("facebook", "1003", text)
    officer.add_record(case.diary_number, RecordSpec("in", incoming, source=source, attachments=[capture],
                                                     parties=[Party("sender", source.author or "")], kind="social_post"))
    officer.add_record(case.diary_number, RecordSpec("out", reply, parties=[Party("recipient", source.author or "")],
                                                     kind="social_post"))
    officer.close_case(case.diary_number)
    admin.reopen_case(case.diary_number, t["reopen"])
    steps.append(DemoStep(case.diary_number, "question answered and closed, then reopened (logged)"))

    # A channel: proposed with its plan, approved, started, a writer designated (TOR-3, RAT-1, RAT-3).
    plan_file = files.root.parent / "demo-plan.toml"
    plan_file.write_text(_PLAN[country], encoding="utf-8")
    channels = Channels(admin, create_plugins(env={}))
    channel = channels.propose(load_plan(plan_file))
    for step in policy.channels.approval_steps:
        channel = channels.approve(str(channel.id), step.step)
    channels.start(str(channel.id))
    channel = channels.designate(str(channel.id), t["comms"][0], user)
    steps.append(DemoStep(channel.case or "", f"channel {channel.url}: plan, approval, start, "
                                              f"{t['comms'][0]} may write for it"))

    # The heart of smcase: a page's comment feed through the plugins into the register.
    summary = Ingest(admin, create_plugins(env={})).run(
        io.BytesIO(_feed(country)), "jsonl", ParseContext(source_name="demo feed"))
    steps.append(DemoStep("ingest", (
        f"a Facebook feed: {summary.received} items, {summary.stored} stored, {summary.skipped} skipped, "
        f"{summary.quarantined} quarantined; {summary.cases_opened} cases opened (answered question, "
        "personnummer, threat)")))
    return steps
