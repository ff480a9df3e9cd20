"""The digests table: every digest, alert and update posted, with what it said."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.store.schema import DigestRecord


def last_posted_at(session: Session, kind: str) -> datetime | None:
    """When the newest digest of this ``kind`` ("digest", "alert") was recorded, if ever."""
    newest = select(func.max(DigestRecord.created_at)).where(DigestRecord.kind == kind)
    return session.scalar(newest)


def last_digest(session: Session) -> DigestRecord | None:
    """The newest record of the digests table, of any kind."""
    return session.scalar(select(DigestRecord).order_by(DigestRecord.id.desc()).limit(1))
