"""The base of each noun of the control plane (`tx.projects`, `tx.keys`, …): its
operations run on the one open transaction it was made for."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pjobs.control.tx import ControlTx


class Noun:
    def __init__(self, tx: ControlTx) -> None:
        self.tx = tx
