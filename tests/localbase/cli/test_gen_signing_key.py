"""`localbase gen signing-key`, as `supabase gen signing-key`: a private JWK set printed, or with
--append written to [auth] signing_keys_path (mode 0600), the new key signing and the older ones
verifying only; the file loads as the server loads it."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from localbase.security import signing_keys
from tests.localbase.cli.test_cli import lb


def test_gen_signing_key_prints_and_rotates(tmp_path: Path):
    printed = json.loads(lb("gen", "signing-key", "--algorithm", "RS256", cwd=tmp_path).stdout)
    assert [(k["alg"], k["kty"], k["key_ops"]) for k in printed] == [("RS256", "RSA", ["sign", "verify"])]
    assert signing_keys.parse(json.dumps(printed))[0].signs

    (tmp_path / "supabase").mkdir()
    (tmp_path / "supabase" / "config.toml").write_text('[auth]\nsigning_keys_path = "./signing_keys.json"\n')
    lb("gen", "signing-key", "--append", cwd=tmp_path)
    lb("gen", "signing-key", "--append", "--algorithm", "RS256", cwd=tmp_path)
    path = tmp_path / "supabase" / "signing_keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = signing_keys.load(path)
    assert [(k.alg, k.signs) for k in keys] == [("RS256", True), ("ES256", False)]
    assert keys[1].private is not None  # the retired key keeps verifying (and can be dropped later)


def test_append_needs_the_config_key(tmp_path: Path):
    (tmp_path / "supabase").mkdir()
    result = lb("gen", "signing-key", "--append", cwd=tmp_path, check=False)
    assert result.returncode == 2 and "signing_keys_path" in result.stderr
