"""``GET /feed.atom``: the violation changes as an Atom feed (RFC 4287) a feed reader can follow.

One entry per change (opened, resolved, waived, message changed, waiver granted or revoked),
newest first. Entry ids are stable URNs of the change, so a reader shows each change once;
each entry links to the violation's page. Built with the standard library's XML writer, so
every text is escaped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from xml.etree import ElementTree as ET

from regie.store.models import Change

__all__ = ["ATOM_TYPE", "atom_feed"]

ATOM_TYPE = "application/atom+xml; charset=utf-8"
_NS = "http://www.w3.org/2005/Atom"

_VERBS = {
    "opened": "opened",
    "resolved": "resolved",
    "waived": "waived",
    "message": "changed",
    "reopened": "reopened",
    "waiver_created": "waiver granted",
    "waiver_revoked": "waiver revoked",
}


def atom_feed(changes: Sequence[Change], *, base_url: str, feed_id: str, updated: dt.datetime) -> bytes:
    """The feed document for ``changes`` (newest first), with links below ``base_url``."""
    ET.register_namespace("", _NS)
    feed = ET.Element(f"{{{_NS}}}feed")
    _text(feed, "title", "Regie: violation changes")
    _text(feed, "subtitle", "Policy violations opened, resolved and waived, with the documents they enforce")
    _text(feed, "id", feed_id)
    _text(feed, "updated", _iso(max((c.at for c in changes), default=updated)))
    ET.SubElement(feed, f"{{{_NS}}}link", rel="self", href=f"{base_url}/feed.atom")
    ET.SubElement(feed, f"{{{_NS}}}link", rel="alternate", href=f"{base_url}/")
    author = ET.SubElement(feed, f"{{{_NS}}}author")
    _text(author, "name", "Regie")
    ET.SubElement(feed, f"{{{_NS}}}generator").text = "Regie"
    for change in changes:
        _entry(feed, change, base_url, feed_id)
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body


def _entry(feed: ET.Element, change: Change, base_url: str, feed_id: str) -> None:
    entry = ET.SubElement(feed, f"{{{_NS}}}entry")
    v = change.violation
    verb = _VERBS.get(change.kind, change.kind)
    if v is not None:
        title = f"{verb}: {v.policy} on {v.address or v.resource}"
        link = f"{base_url}/violations/{v.id}"
    else:
        title = f"{verb}: {change.waiver_id or ''}".strip()
        link = f"{base_url}/waivers"
    _text(entry, "title", title)
    _text(entry, "id", f"{feed_id}#change-{change.id}")
    _text(entry, "updated", _iso(change.at))
    ET.SubElement(entry, f"{{{_NS}}}link", rel="alternate", href=link)
    if v is not None:
        ET.SubElement(entry, f"{{{_NS}}}category", term=v.severity, label=f"severity {v.severity}")
        for rid in v.requirements:
            ET.SubElement(entry, f"{{{_NS}}}category", term=rid)
        lines = [
            v.message,
            f"Policy: {v.policy} — {v.titles.get('en', v.title)}",
            f"Source: {v.citation}",
            f"Resource: {v.resource}",
            f"Service: {v.service or '(none)'}; severity {v.severity}; enforcement {v.enforcement}",
            f"Status: {change.previous or 'new'} → {change.status or v.status}",
        ]
    else:
        lines = [change.message or verb]
    content = ET.SubElement(entry, f"{{{_NS}}}content", type="text")
    content.text = "\n".join(lines)


def _text(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, f"{{{_NS}}}{tag}").text = text


def _iso(at: dt.datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
