"""How far the scheduler has handed out checks: one row per installation."""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from aloft.models.base import Base

#: The id of the only row.
SCHEDULE_ID = 1


class Schedule(Base):
    """Every check due up to ``handed_out_until_ms`` (epoch ms) has been handed to an executor.

    A scheduler claims the next stretch of time by moving this mark with a compare-and-set,
    so two schedulers never hand out the same check.
    """

    __tablename__ = "schedule"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    handed_out_until_ms: Mapped[int] = mapped_column(BigInteger)
