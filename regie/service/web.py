"""The web page for compliance officers: plain server-rendered HTML over the violation store.

``/`` shows the open violations grouped by service and by the source document they enforce,
with filters (a GET form, so every view is a link that can be shared), a count of violations
over the last 30 days, and links to each violation's page (message, evidence, the policy's
source, history). ``/waivers`` lists waivers with their expiry. No build step and no script:
it works on a fresh machine and in any browser.

A browser cannot send a bearer token with a link, so ``/login`` takes the token once and keeps
it in an HttpOnly, SameSite=Strict cookie; the same token check as the API applies.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from regie.output import short_resource
from regie.store.api import Store
from regie.store.models import DayCount, StoredViolation, StoredWaiver, ViolationFilter

__all__ = ["COOKIE", "web_router"]

_NONE_ROW = "<tr><td>(none)</td></tr>"

COOKIE = "regie_token"
#: At most this many violations are drawn on one page; the filters narrow a larger estate.
MAX_SHOWN = 2000

#: (name, role) of the caller, or None when the request carries no valid token.
WhoIs = Callable[[Request], "tuple[str, str] | None"]
#: (name, role) for a token typed into the login form, or why it is refused.
CheckToken = Callable[[str], "tuple[str, str] | str"]

_SEVERITIES = ("critical", "high", "medium", "low", "info")
_ENFORCEMENTS = ("deny", "warn", "advisory")
_STATUSES = ("open", "waived", "resolved")


def web_router(store_of: Callable[[], Store | None], who_is: WhoIs, check_token: CheckToken) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def gate(request: Request) -> tuple[str, Store] | Response:
        who = who_is(request)
        if who is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        store = store_of()
        if store is None:
            return _page(
                "No store",
                "<p>No violation store is configured: start <code>regie serve --store URL</code>.</p>",
                who[0],
                503,
            )
        return who[0], store

    @router.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> Response:
        got = gate(request)
        if isinstance(got, Response):
            return got
        user, store = got
        q = request.query_params
        status = q.get("status") or "open"
        where = ViolationFilter(
            service=q.get("service") or None,
            severity=q.get("severity") or None,
            enforcement=q.get("enforcement") or None,
            policy=q.get("policy") or None,
            requirement=q.get("requirement") or None,
            status=status if status in _STATUSES else None,  # type: ignore[arg-type]
        )
        violations, more = await run_in_threadpool(_all, store, where)
        counts = await run_in_threadpool(store.open_counts, 30)
        document = q.get("document") or ""
        if document:
            violations = [v for v in violations if _document_of(v) == document]
        body = _index_body(violations, more, counts, dict(q), status, document)
        return _page("Violations", body, user)

    @router.get("/violations/{violation_id}", response_class=HTMLResponse)
    async def detail(request: Request, violation_id: int) -> Response:
        got = gate(request)
        if isinstance(got, Response):
            return got
        user, store = got
        v = await run_in_threadpool(store.get_violation, violation_id)
        if v is None:
            return _page("Not found", f"<p>There is no violation {violation_id}.</p>", user, 404)
        return _page(f"Violation {v.id}", _detail_body(v), user)

    @router.get("/waivers", response_class=HTMLResponse)
    async def waivers(request: Request) -> Response:
        got = gate(request)
        if isinstance(got, Response):
            return got
        user, store = got
        items = await run_in_threadpool(store.list_waivers, include_revoked=True)
        return _page("Waivers", _waivers_body(items, dt.date.today()), user)

    @router.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request) -> Response:
        return _page("Sign in", _login_body(request.query_params.get("next", "/"), None), None)

    @router.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0].strip()
        target = _safe_next((form.get("next") or ["/"])[0])
        checked = check_token(token) if token else "Paste a token first."
        if isinstance(checked, str):
            return _page("Sign in", _login_body(target, checked), None, 401)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/"
        )
        return response

    @router.get("/logout")
    async def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    return router


# --- data ----------------------------------------------------------------------------------------


def _all(store: Store, where: ViolationFilter) -> tuple[list[StoredViolation], bool]:
    out: list[StoredViolation] = []
    cursor: str | None = None
    while len(out) < MAX_SHOWN:
        page = store.list_violations(where, cursor=cursor, limit=500)
        out.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return out, False
    return out[:MAX_SHOWN], True


@functools.cache
def _documents() -> tuple[dict[str, str], tuple[str, ...]]:
    """Requirement id → the title of its source document, and the documents in register order."""
    from regie.library import load_requirements

    try:
        reqs = load_requirements()
    except Exception:  # the page still works without the register; it groups by citation then
        return {}, ()
    titles = {rid: reqs.documents[r.document].title for rid, r in reqs.requirements.items()}
    return titles, tuple(d.title for d in reqs.documents.values())


def _document_of(v: StoredViolation) -> str:
    titles, _ = _documents()
    for rid in v.requirements:
        if rid in titles:
            return titles[rid]
    return v.citation.split(";")[0].split("(")[0].strip() or "Other"


# --- pages ---------------------------------------------------------------------------------------

_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
header{background:#154273;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.5rem;align-items:baseline}
header a{color:#fff}header .who{margin-left:auto;font-size:.85rem}
main{padding:1rem 1.2rem;max-width:80rem}
h1{font-size:1.4rem;margin:.2rem 0 1rem}h2{font-size:1.15rem;margin:1.6rem 0 .4rem}
h3{font-size:1rem;margin:1rem 0 .3rem;color:#444}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top;
overflow-wrap:anywhere}
th{background:#eef2f6;font-weight:600}
form.filters{display:flex;flex-wrap:wrap;gap:.6rem;align-items:end;background:#fff;padding:.6rem;
border:1px solid #ddd}
form.filters label{display:flex;flex-direction:column;font-size:.8rem}
.badge{display:inline-block;padding:0 .4rem;border-radius:.3rem;font-size:.8rem;color:#fff}
.critical,.high,.deny{background:#b3261e}.medium,.warn{background:#c26a00}.low,.advisory,.info{background:#5b6b7b}
.open{background:#b3261e}.waived{background:#5b6b7b}.resolved{background:#2e7d32}
.muted{color:#666}.summary{margin:.8rem 0}pre{white-space:pre-wrap;margin:0;font-size:.85rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;background:#fff;padding:.6rem;
border:1px solid #ddd}
dt{font-weight:600}dd{margin:0}.expired{color:#b3261e;font-weight:600}
"""


def _page(title: str, body: str, user: str | None, status: int = 200) -> HTMLResponse:
    who = f'<span class="who">signed in as {_e(user)} · <a href="/logout">sign out</a></span>' if user else ""
    nav = (
        '<a href="/">Violations</a><a href="/waivers">Waivers</a><a href="/feed.atom">Atom feed</a>'
        if user
        else ""
    )
    text = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)} · Regie</title><style>{_CSS}</style>"
        f'<link rel="alternate" type="application/atom+xml" title="Violation changes" href="/feed.atom">'
        f"</head><body><header><strong>Regie</strong>{nav}{who}</header><main>{body}</main></body></html>"
    )
    return HTMLResponse(text, status_code=status)


def _index_body(
    violations: Sequence[StoredViolation],
    more: bool,
    counts: Sequence[DayCount],
    query: dict[str, str],
    status: str,
    document: str,
) -> str:
    services = sorted({v.service for v in violations if v.service})
    _, documents = _documents()
    parts = [f"<h1>{_e(status.capitalize() if status in _STATUSES else 'All')} violations</h1>"]
    parts.append(_filters(query, services, documents, status, document))
    by_enforcement = {e: sum(1 for v in violations if v.enforcement == e) for e in _ENFORCEMENTS}
    summary = ", ".join(f"{n} {e}" for e, n in by_enforcement.items() if n)
    parts.append(
        f'<p class="summary" id="summary"><strong>{len(violations)}</strong> '
        f"violation{'s' if len(violations) != 1 else ''}{f' ({summary})' if summary else ''}"
        + (f"; only the first {MAX_SHOWN} are shown, narrow the filters" if more else "")
        + "</p>"
    )
    parts.append(_chart(counts))
    groups: dict[str, dict[str, list[StoredViolation]]] = {}
    for v in violations:
        groups.setdefault(v.service or "(no service)", {}).setdefault(_document_of(v), []).append(v)
    order = {title: i for i, title in enumerate(documents)}
    for service in sorted(groups, key=lambda s: (s == "(no service)", s)):
        docs = groups[service]
        n = sum(len(vs) for vs in docs.values())
        parts.append(
            f'<section class="service" data-service="{_e(service)}">'
            f'<h2>{_e(service)} <span class="muted">({n})</span></h2>'
        )
        for doc in sorted(docs, key=lambda d: (order.get(d, len(order)), d)):
            parts.append(f"<h3>{_e(doc)}</h3>")
            parts.append(_table(docs[doc]))
        parts.append("</section>")
    if not violations:
        parts.append("<p>No violations match.</p>")
    return "".join(parts)


def _filters(
    query: dict[str, str], services: Iterable[str], documents: Iterable[str], status: str, document: str
) -> str:
    def select(name: str, label: str, options: Iterable[str], current: str, blank: str = "any") -> str:
        opts = [f'<option value="">{_e(blank)}</option>']
        for o in options:
            sel = " selected" if o == current else ""
            opts.append(f'<option value="{_e(o)}"{sel}>{_e(o)}</option>')
        return f'<label>{_e(label)}<select name="{name}">{"".join(opts)}</select></label>'

    status_opts = "".join(
        f'<option value="{s}"{" selected" if s == status else ""}>{s}</option>' for s in (*_STATUSES, "all")
    )
    return (
        '<form class="filters" method="get" action="/">'
        + f'<label>status<select name="status">{status_opts}</select></label>'
        + select(
            "service",
            "service",
            sorted({*services, *([query["service"]] if query.get("service") else [])}),
            query.get("service", ""),
        )
        + select("document", "source document", documents, document)
        + select("severity", "severity", _SEVERITIES, query.get("severity", ""))
        + select("enforcement", "enforcement", _ENFORCEMENTS, query.get("enforcement", ""))
        + f'<label>policy<input name="policy" value="{_e(query.get("policy", ""))}" size="28"></label>'
        + f'<label>requirement<input name="requirement" value="{_e(query.get("requirement", ""))}"'
        + ' size="10"></label>'
        + '<button type="submit">Filter</button> <a href="/">clear</a></form>'
    )


def _table(violations: Sequence[StoredViolation]) -> str:
    rows = []
    for v in sorted(
        violations,
        key=lambda v: (
            _SEVERITIES.index(v.severity) if v.severity in _SEVERITIES else 9,
            v.policy,
            v.resource,
        ),
    ):
        unknown = ' <span class="muted">(unknown)</span>' if v.outcome == "unknown" else ""
        rows.append(
            f'<tr class="violation" data-id="{v.id}">'
            f'<td><span class="badge {_e(v.severity)}">{_e(v.severity)}</span></td>'
            f'<td><span class="badge {_e(v.enforcement)}">{_e(v.enforcement)}</span>{unknown}</td>'
            f"<td><code>{_e(v.policy)}</code></td>"
            f'<td title="{_e(v.resource)}">{_e(v.address or short_resource(v.resource, v.source))}'
            f'<div class="muted">{_e(v.source)}</div></td>'
            f'<td><a href="/violations/{v.id}">{_e(v.message)}</a></td>'
            f'<td class="muted">{_e(", ".join(v.requirements))}</td>'
            f'<td class="muted">{v.first_seen.date().isoformat()}</td></tr>'
        )
    return (
        "<table><thead><tr><th>severity</th><th>enforcement</th><th>policy</th><th>resource</th>"
        "<th>message</th><th>requirements</th><th>since</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _chart(counts: Sequence[DayCount]) -> str:
    """Open violations per day as an inline SVG bar chart, with the numbers as a table for screen readers."""
    if not counts:
        return ""
    top = max(max(c.open for c in counts), 1)
    width, height, gap = 12, 60, 2
    bars = []
    for i, c in enumerate(counts):
        h = round(c.open / top * height)
        bars.append(
            f'<rect x="{i * (width + gap)}" y="{height - h}" width="{width}" height="{h}" fill="#154273">'
            f"<title>{c.day.isoformat()}: {c.open} open, {c.waived} waived</title></rect>"
        )
    svg_width = len(counts) * (width + gap)
    first, last = counts[0], counts[-1]
    return (
        f'<figure id="trend"><svg role="img" aria-label="open violations per day" width="{svg_width}" '
        f'height="{height}" viewBox="0 0 {svg_width} {height}">{"".join(bars)}</svg>'
        f'<figcaption class="muted">Open violations per day: {first.open} on {first.day.isoformat()}, '
        f"{last.open} on {last.day.isoformat()} ({last.waived} waived)</figcaption></figure>"
    )


def _detail_body(v: StoredViolation) -> str:
    titles, _ = _documents()
    requirements = ", ".join(f"{_e(r)} ({_e(titles.get(r, '?'))})" for r in v.requirements) or "(none)"
    unknown = f" (unknown: {_e(v.reason or '')})" if v.outcome == "unknown" else ""
    item = f" · item {_e(v.item)}" if v.item else ""
    waiver = ""
    if v.waiver:
        w = v.waiver
        waiver = (
            f"<dt>waiver</dt><dd>{_e(str(w.get('id', '')))}: {_e(str(w.get('reason', '')))} "
            f"(approved by {_e(str(w.get('approved_by', '')))}, until {_e(str(w.get('expires', '')))})</dd>"
        )
    fields = (
        f'<dt>status</dt><dd><span class="badge {_e(v.status)}" id="status">{_e(v.status)}</span></dd>'
        f"<dt>policy</dt><dd><code>{_e(v.policy)}</code>: {_e(v.titles.get('en', v.title))}"
        + (f" <span class='muted'>({_e(v.title)})</span>" if "en" in v.titles else "")
        + "</dd>"
        f'<dt>source</dt><dd id="citation">{_e(v.citation)}</dd>'
        f"<dt>requirements</dt><dd>{requirements}</dd>"
        f'<dt>severity</dt><dd><span class="badge {_e(v.severity)}">{_e(v.severity)}</span></dd>'
        f"<dt>enforcement</dt><dd>{_e(v.enforcement)}{unknown}</dd>"
        + (f"<dt>basis</dt><dd>{_e(v.basis)}</dd>" if v.basis else "")
        + f"<dt>resource</dt><dd><code>{_e(v.resource)}</code>{item}</dd>"
        f"<dt>service</dt><dd>{_e(v.service or '(none)')}</dd>"
        f"<dt>from</dt><dd>{_e(v.source)}</dd>"
        f"<dt>first seen</dt><dd>{_when(v.first_seen)}</dd><dt>last seen</dt><dd>{_when(v.last_seen)}</dd>"
        + waiver
    )
    evidence = "".join(
        f"<tr><th>{_e(str(k))}</th><td><pre>{_e(_json(value))}</pre></td></tr>"
        for k, value in v.evidence.items()
    )
    history = "".join(
        f"<tr><td>{_when(c.at)}</td><td>{_e(c.kind)}</td>"
        f"<td>{_e(c.previous or '')} → {_e(c.status or '')}</td>"
        f"<td>{_e(c.message or '')}</td><td class='muted'>{_e(str(c.record_id or ''))}</td></tr>"
        for c in v.history
    )
    return (
        f'<p><a href="/">← all violations</a></p><h1 id="message">{_e(v.message)}</h1><dl>{fields}</dl>'
        f'<h2>Evidence</h2><table id="evidence"><tbody>{evidence or _NONE_ROW}</tbody></table>'
        '<h2>History</h2><table id="history"><thead><tr><th>when</th><th>change</th><th>status</th>'
        f"<th>message</th><th>scan record</th></tr></thead><tbody>{history}</tbody></table>"
    )


def _waivers_body(items: Sequence[StoredWaiver], today: dt.date) -> str:
    rows = []
    for w in items:
        if w.revoked:
            state = (
                f"revoked by {_e(w.revoked_by or '?')} on {_when(w.revoked_at)}"
                if w.revoked_at
                else "revoked"
            )
        elif w.expires < today:
            state = f'<span class="expired">expired on {w.expires.isoformat()}</span>'
        else:
            left = (w.expires - today).days
            state = f"until {w.expires.isoformat()} ({left} day{'s' if left != 1 else ''} left)"
        rows.append(
            f'<tr class="waiver" data-id="{_e(w.id)}"><td><code>{_e(w.id)}</code></td>'
            f"<td><code>{_e(w.policy)}</code></td>"
            f"<td><code>{_e(w.resource)}</code>{' (' + _e(w.service) + ')' if w.service else ''}</td>"
            f"<td>{_e(w.reason)}</td><td>{_e(w.approved_by)}</td><td>{state}</td>"
            f'<td class="muted">{_e(w.created_by)}, {_when(w.created_at)}</td></tr>'
        )
    return (
        "<h1>Waivers</h1><p class='muted'>Time-bound exceptions. An expired or revoked waiver no longer "
        "suppresses anything. Admins grant and revoke them with the API (<code>POST /v1/waivers</code>).</p>"
        "<table><thead><tr><th>id</th><th>policy</th><th>resources</th><th>reason</th><th>approved by</th>"
        "<th>expiry</th><th>granted</th></tr></thead><tbody>"
        + ("".join(rows) or "<tr><td colspan='7'>No waivers.</td></tr>")
        + "</tbody></table>"
    )


def _login_body(target: str, problem: str | None) -> str:
    note = f'<p class="expired" role="alert">{_e(problem)}</p>' if problem else ""
    return (
        f"<h1>Sign in</h1>{note}<p>Paste a Regie API token with the reader or admin role.</p>"
        '<form method="post" action="/login">'
        f'<input type="hidden" name="next" value="{_e(_safe_next(target))}">'
        '<label>token <input type="password" name="token" autocomplete="current-password" size="48"></label> '
        '<button type="submit">Sign in</button></form>'
    )


# --- helpers -------------------------------------------------------------------------------------


def _e(text: str | None) -> str:
    return html.escape(text or "", quote=True)


def _when(at: dt.datetime | None) -> str:
    if at is None:
        return ""
    return _e(at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))


def _json(value: Any) -> str:
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def _safe_next(target: str) -> str:
    """Only a path on this site: never redirect a signed-in user elsewhere."""
    return target if target.startswith("/") and not target.startswith("//") else "/"
