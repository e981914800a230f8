"""Writes the SQL versions of uuid-ossp and pgcrypto (extension/*.sql) from their templates (*.sql.in):
SHA-1 (sha1.sql.in) into both, and into pgcrypto Blowfish's initial state (the hexadecimal
expansion of pi, computed here) with its encryption unrolled into PL/pgSQL statements. A maintenance
tool (`python -m localbase.database.pgshare.generate`), not used at run time; a test checks that the
shipped files are what it writes."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = ("pgcrypto--1.3.sql", "uuid-ossp--1.1.sql")
SHA1_NAMES = {"pgcrypto--1.3.sql": "_pgcrypto_sha1", "uuid-ossp--1.1.sql": "_uuid_ossp_sha1"}


def pi_words(count: int = 1042) -> list[int]:
    """The first `count` 32-bit words of pi's fractional part in hexadecimal (Machin's formula)."""
    digits = count * 8
    one = 1 << (digits * 4 + 64)

    def arctan_inverse(x: int) -> int:
        total = term = one // x
        k, sign = 1, -1
        while term:
            term //= x * x
            total += sign * (term // (2 * k + 1))
            sign, k = -sign, k + 1
        return total

    hexadecimal = format((4 * (4 * arctan_inverse(5) - arctan_inverse(239))) >> 64, "x")[1:]
    return [int(hexadecimal[i * 8:(i + 1) * 8], 16) for i in range(count)]


def _f(x: str) -> str:
    """Blowfish's F on the half-block variable x, modulo 2^32."""
    return f"((((s[1 + ({x} >> 24)] + s[257 + (({x} >> 16) & 255)]) # s[513 + (({x} >> 8) & 255)]) " \
           f"+ s[769 + ({x} & 255)]) & 4294967295)"


def encryption(indent: int) -> str:
    """One Blowfish encryption of (l, r), in place: 16 rounds, each one statement."""
    pad = " " * indent
    lines = [f"{pad}l := l # p[1];"]
    for k in range(8):
        lines.append(f"{pad}r := r # {_f('l')} # p[{2 * k + 2}];")
        lines.append(f"{pad}l := l # {_f('r')}" + (f" # p[{2 * k + 3}];" if k < 7 else ";"))
    lines.append(f"{pad}t := l; l := r # p[18]; r := t # p[17];")
    return "\n".join(lines)


def render(script: str) -> str:
    words = pi_words()

    def listed(values: list[int]) -> str:
        return ",\n    ".join(",".join(str(v) for v in values[i:i + 8]) for i in range(0, len(values), 8))

    sha1 = (HERE / "sha1.sql.in").read_text().replace("%%SHA1%%", SHA1_NAMES[script])
    return (HERE / f"{script}.in").read_text().replace("%%SHA1_FUNCTION%%", sha1) \
        .replace("%%P%%", listed(words[:18])).replace("%%S%%", listed(words[18:])) \
        .replace("%%ENC6%%", encryption(6)).replace("%%ENC8%%", encryption(8))


if __name__ == "__main__":
    for name in SCRIPTS:
        (HERE / "extension" / name).write_text(render(name))
