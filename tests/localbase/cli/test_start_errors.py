"""Mistakes a new user makes on the command line get one clear line and exit 1: a port out of
range, a DATABASE_URL that is not PostgreSQL's or does not answer, a --workdir pointing nowhere
(which must not become a new empty project)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from localbase.testing.server import free_port
from tests.localbase.cli.test_cli import ENV, lb


@pytest.fixture(scope="module")
def project():
    with tempfile.TemporaryDirectory(prefix="lb-errors-") as folder:
        lb("init", cwd=Path(folder))
        yield Path(folder)


def one_line_error(result, *expected: str) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    text = result.stderr.strip()
    assert "Traceback" not in result.stdout + result.stderr
    assert len(text.splitlines()) == 1, text  # one line, even on a narrow terminal (COLUMNS=60 below)
    for part in expected:
        assert part in text, text
    return text


@pytest.mark.parametrize("args, expected", [
    (["--port", "99999"], ["--port", "1 to 65535", "99999"]),
    (["--port", "0"], ["--port", "1 to 65535"]),
    (["--db-port", "70000"], ["--db-port", "70000"]),
])
def test_a_port_out_of_range(project, args, expected, monkeypatch):
    monkeypatch.setitem(ENV, "COLUMNS", "60")
    one_line_error(lb("start", *args, cwd=project, check=False), *expected)
    assert not (project / ".localbase" / "pgdata").exists()  # refused before anything started


@pytest.mark.parametrize("url, expected", [
    ("not-a-url", "it is not a URL"),
    ("mysql://app:s3cret-pw@127.0.0.1/shop", "it is a mysql:// URL"),
    ("postgresql://app:s3cret-pw@127.0.0.1:notaport/db", "is not a valid URL"),
])
def test_a_database_url_that_is_not_postgresql(project, url, expected, monkeypatch):
    monkeypatch.setitem(ENV, "COLUMNS", "60")
    monkeypatch.setitem(ENV, "DATABASE_URL", url)
    text = one_line_error(lb("start", "--port", str(free_port()), cwd=project, check=False), "DATABASE_URL", expected)
    assert "s3cret-pw" not in text
    flag = lb("start", "--db-url", url, "--port", str(free_port()), cwd=project, check=False)
    assert "--db-url" in one_line_error(flag, expected)


def test_an_unreachable_database_url_is_named(project, monkeypatch):
    monkeypatch.setitem(ENV, "COLUMNS", "60")
    monkeypatch.setitem(ENV, "DATABASE_URL", f"postgresql://app:s3cret-pw@127.0.0.1:{free_port()}/db")
    text = one_line_error(lb("start", "--port", str(free_port()), cwd=project, check=False),
                          "DATABASE_URL", "cannot connect", "app:****@127.0.0.1")
    assert "s3cret-pw" not in text


def test_a_workdir_pointing_nowhere_creates_nothing(project, monkeypatch):
    monkeypatch.setitem(ENV, "COLUMNS", "60")
    nowhere = Path(tempfile.gettempdir()) / f"lb-nowhere-{os.getpid()}"
    for command in (["start"], ["status"], ["db", "reset"]):
        one_line_error(lb(*command, "--workdir", str(nowhere), cwd=project, check=False),
                       str(nowhere), "does not exist", "--workdir")
    assert not nowhere.exists()
    with tempfile.TemporaryDirectory(prefix="lb-empty-") as empty:  # a folder, but no project in it
        refused = lb("start", "--workdir", empty, cwd=project, check=False)
        one_line_error(refused, "no supabase/ folder", "localbase init")
        assert os.listdir(empty) == []
