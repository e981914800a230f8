from __future__ import annotations

import pytest

from tests.localbase.net.receiver import Receiver


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()
