"""Page-or-fragment rendering that every view uses.

A URL answers with its whole page, or, when htmx asks for it, with just the named block
of that same page template (jinja2-fragments). History restores and boosted requests
always get the whole page, and `Vary` tells caches the two answers differ.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, flash, get_flashed_messages, make_response, redirect, request
from flask import render_template as render_page
from jinja2_fragments.flask import render_block, render_blocks

HTMX_VARY = ("HX-Request", "HX-History-Restore-Request", "HX-Boosted", "HX-Target")


def is_htmx() -> bool:
    """True when the request was made by htmx (an in-page swap, not a navigation)."""
    return request.headers.get("HX-Request") == "true"


def wants_fragment() -> bool:
    """True when a fragment may answer: htmx asked, and not to restore history."""
    return (
        is_htmx()
        and request.headers.get("HX-History-Restore-Request") != "true"
        and request.headers.get("HX-Boosted") != "true"
    )


def notify(message: str, kind: str = "success") -> None:
    """Queue a toast: shown out-of-band on a fragment, or on the next whole page."""
    flash(message, kind)


def render(
    template: str,
    block: str | None = None,
    *,
    status: int = 200,
    oob: tuple[str, ...] = (),
    page_context: Callable[[], dict] | None = None,
    **context,
) -> Response:
    """Render the whole page, or `block` (plus any `oob` blocks and toasts) for htmx.

    `page_context` gives what the whole page needs beyond the block's `context`; it is only
    called when the whole page is rendered (a form posted without htmx, say)."""
    if block is not None and wants_fragment():
        if oob:
            html = render_blocks(template, [block, *oob], **context)
        else:
            html = render_block(template, block, **context)
        html += render_block("_toasts.html", "oob_toasts", messages=_pending_toasts())
    else:
        if page_context is not None:
            context = {**page_context(), **context}
        html = render_page(template, **context)
    response = make_response(html, status)
    response.vary.update(HTMX_VARY)
    return response


def fragment(template: str, page_url: str, *, status: int = 200, **context) -> Response:
    """A piece that only htmx asks for (a table row); a browser landing here goes to `page_url`."""
    if not wants_fragment():
        return redirect_to(page_url)
    html = render_page(template, **context)
    html += render_block("_toasts.html", "oob_toasts", messages=_pending_toasts())
    response = make_response(html, status)
    response.vary.update(HTMX_VARY)
    return response


def form_errors(
    template: str, block: str, *, page_context: Callable[[], dict] | None = None, **context
) -> Response:
    """A form with its field errors: a 422 so htmx swaps it in and clients see the failure.

    Without htmx the whole page comes back: `page_context` gives what it needs beyond the
    form's block (see `render`)."""
    return render(template, block, status=422, page_context=page_context, **context)


def redirect_to(url: str) -> Response:
    """Go to `url` after a change: a real redirect, or HX-Redirect when htmx made the request."""
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, 303)


def toasts_only(status: int = 200) -> Response:
    """An answer that changes nothing on the page but shows the pending toasts."""
    html = render_block("_toasts.html", "oob_toasts", messages=_pending_toasts())
    response = make_response(html, status)
    response.headers["HX-Reswap"] = "none"
    return response


def _pending_toasts() -> list[tuple[str, str]]:
    return list(get_flashed_messages(with_categories=True))
