"""API key check benchmark: the gateway's per-request key check (gateway.apikey.ApiKeys.check), in
process, against a baseline in the same run: the check as it was with only the two legacy keys
(constant-time compare of the apikey header, nothing else).

Cases: a legacy anon key with a user's bearer token (the common request), a publishable key
without a bearer (the Authorization the services see is rewritten), and a JWT apikey that is not
one of the stored keys (the Supabase CLI's development keys: verified once, then cached).
Prints ns per check and ours/baseline; writes benchmarks/results/apikey.json.

    python benchmarks/apikey.py [--rounds 200000]
"""

from __future__ import annotations

import argparse
import hmac
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import console, save  # noqa: E402

from localbase.gateway.apikey import ApiKeys  # noqa: E402
from localbase.security import jwt  # noqa: E402
from localbase.settings import load_settings  # noqa: E402


def baseline_check(keys: dict[bytes, str], scope) -> str | None:
    """The two-key check before the new key formats (constant time per candidate)."""
    key = None
    for name, value in scope["headers"]:
        if name == b"apikey":
            key = value
            break
    found = None
    for known, role in keys.items():
        if hmac.compare_digest(known, key):
            found = role
    return found


def per_check_ns(fn, scope_of, rounds: int) -> float:
    scopes = [scope_of() for _ in range(1000)]
    started = time.perf_counter_ns()
    for i in range(rounds):
        fn(scopes[i % 1000])
    return (time.perf_counter_ns() - started) / rounds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200_000)
    rounds = parser.parse_args().rounds
    folder = Path(tempfile.mkdtemp(prefix="apikey-bench-"))
    (folder / "supabase").mkdir()
    settings = load_settings(folder, data_dir=folder / "data")
    keys = ApiKeys(settings)
    legacy = {settings.anon_key.encode(): "anon", settings.service_role_key.encode(): "service_role"}
    user = jwt.sign({"sub": "u", "role": "authenticated", "exp": int(time.time()) + 3600}, settings.jwt_secret)
    other_jwt = jwt.sign({"role": "anon", "iss": "supabase-demo"}, settings.jwt_secret)
    common = [(b"host", b"127.0.0.1"), (b"accept", b"application/json"), (b"user-agent", b"bench"),
              (b"x-client-info", b"supabase-py/2"), (b"accept-profile", b"public")]

    def scope(apikey: str, bearer: str | None):
        headers = [*common, (b"apikey", apikey.encode())]
        if bearer:
            headers.append((b"authorization", f"Bearer {bearer}".encode()))
        return lambda: {"type": "http", "headers": list(headers), "query_string": b""}

    cases = {
        "legacy_key_user_bearer": scope(settings.anon_key, user),
        "publishable_key_no_bearer": scope(settings.publishable_key, None),
        "jwt_apikey_not_stored": scope(other_jwt, None),
    }
    base = per_check_ns(lambda s: baseline_check(legacy, s), cases["legacy_key_user_bearer"], rounds)
    result = {"rounds": rounds, "baseline_ns": round(base, 1), "cases": {}}
    for name, make in cases.items():
        ns = per_check_ns(keys.check, make, rounds)
        result["cases"][name] = {"ns": round(ns, 1), "ratio": round(ns / base, 3)}
        console.print(f"{name:28} {ns:8.0f} ns/check   ours/baseline {ns / base:5.2f}")
    console.print(f"{'baseline (two legacy keys)':28} {base:8.0f} ns/check")
    console.print(f"saved {save('apikey', result)}")


if __name__ == "__main__":
    main()
