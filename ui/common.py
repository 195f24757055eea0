"""Helpers shared by the Gradio tabs: who is calling, and placeholders for empty tables."""

from __future__ import annotations

import gradio as gr
import pandas as pd
import sqlalchemy as sa

from arena.service import ArenaService, User
from ui.auth import request_user


def gradio_user(service: ArenaService, request: gr.Request | None, admin: bool = False) -> User:
    """The signed-in user of a Gradio event (from the session cookie); raises gr.Error if none.

    Gradio's own `request.username` comes from the same session lookup; reading the cookie
    again keeps handlers safe even if an event is sent without going through the page.
    """
    try:
        user = request_user(service, request.request) if request is not None else None
    except sa.exc.SQLAlchemyError as exc:  # the store is down: say so, once in the log
        service.store_failed(exc)
        raise gr.Error(
            "Voting is paused: the server cannot reach its store right now. Nothing you do now "
            "is saved; votes you saw acknowledged are safe. Please try again in a few minutes."
        ) from None
    if user is None:
        raise gr.Error("Your session has ended: reload the page and sign in again.")
    if admin and not user.is_admin:
        raise gr.Error("This needs an admin account.")
    return user


def note_frame(message: str) -> pd.DataFrame:
    """A one-cell table that says why a table is empty."""
    return pd.DataFrame({"": [message]})
