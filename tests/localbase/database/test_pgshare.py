"""The shipped SQL uuid-ossp and pgcrypto are what their generator writes (one SHA-1 for both;
Blowfish's state from pi, its rounds unrolled)."""

from __future__ import annotations

from localbase.database.pgshare import generate


def test_blowfish_state_is_pi():
    words = generate.pi_words()
    assert (words[0], words[17], words[18], words[-1]) == (0x243F6A88, 0x8979FB1B, 0xD1310BA6, 0x3AC372E6)


def test_the_shipped_files_are_the_generated_ones():
    for name in generate.SCRIPTS:
        assert (generate.HERE / "extension" / name).read_text() == generate.render(name), name
