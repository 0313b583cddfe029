"""PySide6 6.12.0 drops a reference on every emit() under Python 3.11 and aborts after a few
hundred emits: thousands of emits here make a bad pin fail loudly."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    fired = Signal(str, object)


@pytest.mark.timeout(60)
def test_thousands_of_emits_with_python_payloads(qapp: Any) -> None:
    emitter = _Emitter()
    received: list[int] = []
    emitter.fired.connect(lambda name, payload: received.append(payload["n"]))
    for n in range(5000):
        emitter.fired.emit("step", {"n": n})
    assert received == list(range(5000))
