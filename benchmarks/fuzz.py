"""Fuzz: random requests at /rest/v1 and /auth/v1 for N minutes, on servers of its own; none may
answer 5xx, and every refusal must be in the protocol's own shape.

The requests (tests/localbase/fuzzing.py, hypothesis strategies shared with the property tests
that CI runs for a few seconds) mix methods, paths, filters, selects, orders and ranges, random
`Prefer`, `Accept`, `Content-Type` and profile headers, bodies ({}, [], [{}], nested, wrong types,
invalid JSON, CSV, form, bytes), and the anon key, a user's token, the service role's and bad
tokens. REST runs on tests/localbase/project, Auth on tests/localbase/auth/project. A share of the
writes commits (--commit-share), the rest carry `Prefer: tx=rollback`.

    python benchmarks/fuzz.py [--minutes 10] [--only rest|auth] [--commit-share 0.1]

Prints the cases run and every distinct failure (with a case to replay it, and the server's
logged exception); writes benchmarks/results/fuzz.json; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).parent)]

from common import console, save  # noqa: E402

from localbase.testing.server import LocalbaseProcess  # noqa: E402
from tests.localbase.fuzzing import Target, auth_cases, rest_cases  # noqa: E402

REST_PROJECT = ROOT / "tests" / "localbase" / "project"
AUTH_PROJECT = ROOT / "tests" / "localbase" / "auth" / "project"
BATCH = 100  # cases per hypothesis run; runs repeat until the time is up


def user_token(server: LocalbaseProcess) -> str:
    """A real user's access token: created by the admin API, signed in with a password."""
    email, password = f"fuzz-{uuid.uuid4().hex[:8]}@example.com", "correct-horse-1"
    service = {"apikey": server.service_role_key, "Authorization": f"Bearer {server.service_role_key}"}
    httpx.post(f"{server.url}/auth/v1/admin/users", headers=service, timeout=30,
               json={"email": email, "password": password, "email_confirm": True}).raise_for_status()
    answer = httpx.post(f"{server.url}/auth/v1/token", params={"grant_type": "password"}, timeout=30,
                        headers={"apikey": server.anon_key}, json={"email": email, "password": password})
    answer.raise_for_status()
    return answer.json()["access_token"]


def logged_errors(log: Path) -> Counter:
    """The exceptions the server logged (their last traceback line), counted."""
    found: Counter = Counter()
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    for n, line in enumerate(lines):
        if line.startswith("Traceback"):
            for follow in lines[n + 1:n + 80]:
                if re.match(r"^[A-Za-z_.]+(Error|Exception|Exit)\b", follow):
                    found[follow[:200]] += 1
                    break
    return found


class Run:
    def __init__(self, service: str, server: LocalbaseProcess, strategy):
        self.service, self.server, self.strategy = service, server, strategy
        self.target = Target(server, user_token(server), service)
        self.cases = 0
        self.statuses: Counter = Counter()
        self.codes: Counter = Counter()  # "status code" -> how often: what the cases ran into
        self.failures: dict[tuple, tuple[str, str]] = {}  # signature -> (problem, case)

    def one(self, case) -> None:
        self.cases += 1
        try:
            answer = self.target.send(case)
        except httpx.HTTPError as exc:  # the server hung up or timed out: as bad as a 5xx
            self._fail(("transport", case.method, case.path, type(exc).__name__), f"{type(exc).__name__}: {exc}", case)
            return
        self.statuses[f"{answer.status_code // 100}xx"] += 1
        problem = self.target.check(case, answer)
        try:
            body = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
        except ValueError:
            body = {}
        code = (body.get("error_code") or body.get("code")) if isinstance(body, dict) else None
        self.codes[f"{answer.status_code} {code or ''}".strip()] += 1
        if problem is not None:
            self._fail((case.method, case.path.split("/")[0], answer.status_code, code), problem, case)

    def _fail(self, signature: tuple, problem: str, case) -> None:
        if signature not in self.failures:
            self.failures[signature] = (problem, repr(case))
            console.print(f"[red]{self.service}: {problem}[/red]\n  {case!r}")

    def batch(self) -> None:
        if self.service == "auth":  # a case may have signed the user out: a fresh one per batch
            self.target.tokens["user"] = user_token(self.server)

        @settings(max_examples=BATCH, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=self.strategy)
        def run(case) -> None:
            self.one(case)

        run()


def rest_mix(commit_share: float):
    """REST cases of which about `commit_share` may commit their writes."""
    if commit_share <= 0:
        return rest_cases()
    if commit_share >= 1:
        return rest_cases(commit=True)
    weight = max(1, round((1 - commit_share) / commit_share))
    return st.one_of(*([rest_cases()] * weight), rest_cases(commit=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--only", choices=["rest", "auth"])
    parser.add_argument("--commit-share", type=float, default=0.1,
                        help="the share of REST writes that commit (the others roll back)")
    args = parser.parse_args()
    servers = {}
    try:
        if args.only != "auth":
            servers["rest"] = LocalbaseProcess(REST_PROJECT).start()
        if args.only != "rest":
            servers["auth"] = LocalbaseProcess(AUTH_PROJECT).start()
        rest_strategy = rest_mix(args.commit_share)
        runs = []
        if "rest" in servers:
            runs.append(Run("rest", servers["rest"], rest_strategy))
        if "auth" in servers:
            runs.append(Run("auth", servers["auth"], auth_cases()))
        deadline = time.monotonic() + args.minutes * 60
        started = time.monotonic()
        while time.monotonic() < deadline:
            for run in runs:
                run.batch()
            done = sum(run.cases for run in runs)
            console.print(f"{(time.monotonic() - started) / 60:5.1f} min: {done} cases, "
                          f"{sum(len(run.failures) for run in runs)} distinct failures", highlight=False)
        elapsed = time.monotonic() - started
        result = {"minutes": round(elapsed / 60, 2), "commit_share": args.commit_share, "services": {}}
        for run in runs:
            server = run.server
            result["services"][run.service] = {
                "cases": run.cases, "statuses": dict(sorted(run.statuses.items())),
                "answers": dict(run.codes.most_common(25)),
                "five_xx_or_bad_shape": len(run.failures),
                "failures": [{"problem": problem, "case": case} for problem, case in run.failures.values()],
                "server_logged_exceptions": dict(logged_errors(server.log_path)),
            }
            console.print(f"[bold]{run.service}[/bold]: {run.cases} cases {dict(sorted(run.statuses.items()))}, "
                          f"{len(run.failures)} distinct failures; server logged "
                          f"{sum(logged_errors(server.log_path).values())} exceptions", highlight=False)
        path = save("fuzz", result)
        console.print(f"results: {path}")
        return 1 if any(run.failures for run in runs) else 0
    finally:
        for server in servers.values():
            server.cleanup()


if __name__ == "__main__":
    sys.exit(main())
