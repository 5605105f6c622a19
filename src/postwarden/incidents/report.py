"""The data breach notification draft for the Privacy Commissioner (PCPD), from an incident.

The sections follow the PCPD's data breach notification form: the data user and its contact,
when the breach happened and was discovered and how, what happened and why, the kinds of
personal data and number of data subjects, containment, risk of harm, notification of the
data subjects, and remedial actions.  The report holds counts, never a data subject's record.
"""

from __future__ import annotations

import io
import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import docx
from fpdf import FPDF
from fpdf.enums import WrapMode, XPos, YPos

from postwarden.engine.registers.fields import SPECS
from postwarden.i18n import _
from postwarden.incidents.facts import IncidentFacts, data_kinds
from postwarden.incidents.fonts import FontFace, find_cjk_font, subset_font

__all__ = ["report_data", "report_docx", "report_json", "report_pdf", "write_report"]

Section = tuple[str, list[tuple[str, str]]]


_UNKNOWN = "not recorded"


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="minutes") if value else _UNKNOWN


def _letters(facts: IncidentFacts) -> dict[str, Any] | None:
    runs = [e for e in facts.events if e.kind == "letters"]
    return dict(runs[-1].data, at=runs[-1].at.isoformat(timespec="minutes")) if runs else None


def _risk(facts: IncidentFacts) -> str:
    if facts.risk:
        return facts.risk
    risks = {SPECS[f].risk for f in facts.fields if f in SPECS}
    identity = "identity" in risks
    reach = "name" in risks and "contact" in risks
    if identity and reach:
        return (
            "High: names together with identity card numbers or dates of birth and contact "
            "details allow identity theft, fraud and unwanted approaches."
        )
    if identity or reach:
        return (
            "Medium: the data identifies people and how to reach them; it could be used "
            "for unwanted approaches or phishing."
        )
    return "Low: the data found does not on its own identify or locate people."


def report_data(facts: IncidentFacts, *, now: datetime) -> dict[str, Any]:
    """The report as one JSON-ready object."""
    scope = facts.scope
    unintended = facts.unintended
    letters = _letters(facts)
    return {
        "form": "PCPD data breach notification (draft)",
        "reference": facts.reference,
        "title": facts.title,
        "generated_at": now.isoformat(timespec="seconds"),
        "status": facts.status,
        "data_user": {
            "name": facts.data_user,
            "name_zh": facts.data_user_zh,
            "contact": facts.contact,
        },
        "breach": {
            "occurred_at": _when(facts.breach_at),
            "discovered_at": _when(facts.discovered_at),
            "how_discovered": facts.discovered_how,
            "what_happened": facts.summary,
            "cause": facts.cause,
            "items": [
                {
                    "kind": i.kind,
                    "name": i.name,
                    "sent_at": _when(i.sent_at),
                    "recipients": len(i.recipients),
                    "sha256": i.sha256,
                }
                for i in facts.items
            ],
        },
        "personal_data": {
            "kinds": [en for en, _ in data_kinds(list(facts.fields))],
            "fields": list(facts.fields),
        },
        "data_subjects": scope.to_json(),
        "containment": {
            "unintended_recipients": len(unintended),
            "recall_requested": sum(r.recall_sent_at is not None for r in unintended),
            "deletion_confirmed": len(facts.confirmed),
            "recipients": [
                {
                    "address": r.address,
                    "unintended": r.unintended,
                    "recall_sent_at": _when(r.recall_sent_at),
                    "confirmed_at": _when(r.confirmed_at),
                }
                for r in facts.recipients
            ],
        },
        "risk_of_harm": _risk(facts),
        "notification_of_data_subjects": {
            "notified": letters is not None,
            "letters": int(letters.get("letters", 0)) if letters else 0,
            "deceased_not_notified": scope.deceased,
            "prepared_at": letters["at"] if letters else None,
        },
        "remedial_actions": facts.remedial,
        "timeline": [
            {
                "at": e.at.isoformat(timespec="minutes"),
                "event": e.kind,
                "status": e.status,
                "by": e.actor,
            }
            for e in facts.events
        ],
    }


def _sections(data: dict[str, Any]) -> list[Section]:
    subjects = data["data_subjects"]
    contain = data["containment"]
    notice = data["notification_of_data_subjects"]
    breach = data["breach"]
    per_register = (
        "; ".join(
            f"{name}: {v['subjects']} ({', '.join(f'{s} {n}' for s, n in v['by_status'].items())})"
            for name, v in subjects["registers"].items()
        )
        or "none"
    )
    return [
        (
            "1. Data user",
            [
                (
                    "Name",
                    " / ".join(
                        x for x in (data["data_user"]["name"], data["data_user"]["name_zh"]) if x
                    )
                    or "-",
                ),
                ("Contact person", data["data_user"]["contact"] or "-"),
            ],
        ),
        (
            "2. The breach",
            [
                ("Date and time of the breach", breach["occurred_at"]),
                ("Date and time of discovery", breach["discovered_at"]),
                ("How it was discovered", breach["how_discovered"] or "-"),
                ("What happened", breach["what_happened"] or "-"),
                ("Cause", breach["cause"] or "-"),
                (
                    "Items that left",
                    "; ".join(
                        f"{i['kind']} {i['name']}"
                        + (f" at {i['sent_at']}" if i["sent_at"] != _UNKNOWN else "")
                        + f" to {i['recipients']} recipient(s)"
                        for i in breach["items"]
                    )
                    or "-",
                ),
            ],
        ),
        (
            "3. Personal data involved",
            [
                ("Kinds of personal data", ", ".join(data["personal_data"]["kinds"]) or "-"),
            ],
        ),
        (
            "4. Data subjects affected",
            [
                ("Number of data subjects", str(subjects["subjects"])),
                ("Living", str(subjects["living"])),
                ("Deceased", str(subjects["deceased"])),
                ("By register", per_register),
            ],
        ),
        (
            "5. Containment",
            [
                ("Unintended recipients", str(contain["unintended_recipients"])),
                ("Recall requested", str(contain["recall_requested"])),
                ("Deletion confirmed", str(contain["deletion_confirmed"])),
            ],
        ),
        ("6. Risk of harm", [("Assessment", data["risk_of_harm"])]),
        (
            "7. Notification of data subjects",
            [
                ("Data subjects notified", "yes" if notice["notified"] else "not yet"),
                ("Letters prepared", str(notice["letters"])),
                ("Deceased (no letter)", str(notice["deceased_not_notified"])),
            ],
        ),
        ("8. Remedial actions", [("Actions", data["remedial_actions"] or "-")]),
        (
            "9. Timeline",
            [
                (t["at"], f"{t['event']}{' → ' + t['status'] if t['status'] else ''} by {t['by']}")
                for t in data["timeline"]
            ],
        ),
    ]


def report_json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"


def report_docx(data: dict[str, Any]) -> bytes:
    document = docx.Document()
    document.add_heading(f"Data breach notification — {data['reference']}", level=0)
    document.add_paragraph(f"{data['title']} (draft generated {data['generated_at']})")
    for heading, rows in _sections(data):
        document.add_heading(heading, level=1)
        table = document.add_table(rows=0, cols=2)
        table.style = "Table Grid"
        for label, value in rows:
            cells = table.add_row().cells
            cells[0].text = label
            cells[1].text = value
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def report_pdf(data: dict[str, Any], font: FontFace | None = None) -> bytes:
    sections = _sections(data)
    title = f"Data breach notification — {data['reference']}"
    texts = [title, data["title"], data["generated_at"]]
    texts += [h for h, _ in sections] + [x for _, rows in sections for pair in rows for x in pair]
    with tempfile.TemporaryDirectory(prefix="postwarden-report-") as tmp:
        cut = subset_font(font or find_cjk_font(), texts, Path(tmp) / "cjk.ttf")
        pdf = FPDF(format="A4")
        pdf.set_margins(18, 18, 18)
        pdf.set_auto_page_break(auto=True, margin=18)
        pdf.add_font("cjk", fname=str(cut))
        pdf.add_page()
        pdf.set_font("cjk", size=15)
        pdf.multi_cell(0, 8, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("cjk", size=9)
        pdf.multi_cell(
            0,
            5,
            f"{data['title']} (draft generated {data['generated_at']})",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
            wrapmode=WrapMode.CHAR,
        )
        for heading, rows in sections:
            pdf.ln(3)
            pdf.set_font("cjk", size=12)
            pdf.multi_cell(0, 7, heading, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.set_font("cjk", size=9.5)
            with pdf.table(
                col_widths=(35, 65),
                text_align="LEFT",
                first_row_as_headings=False,
                wrapmode=WrapMode.CHAR,
            ) as table:
                for label, value in rows:
                    table.row((label, value))
        return bytes(pdf.output())


def write_report(facts: IncidentFacts, out: Path, *, now: datetime) -> dict[str, Any]:
    """Write the report in the format ``out``'s suffix names (.json, .docx, .pdf)."""
    data = report_data(facts, now=now)
    suffix = out.suffix.lower()
    if suffix == ".json":
        body = report_json(data)
    elif suffix == ".docx":
        body = report_docx(data)
    elif suffix == ".pdf":
        body = report_pdf(data)
    else:
        raise ValueError(
            _("report format by file name: .json, .docx or .pdf, not {out_name!r}").format(
                out_name=out.name
            )
        )
    out.write_bytes(body)
    return data
