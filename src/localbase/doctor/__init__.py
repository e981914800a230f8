"""`localbase doctor`: checks of a deployment, reusable by an application's own CLI.

    from localbase.doctor import Check, load_doctor_settings, run_checks, render, exit_code
    checks = run_checks(load_doctor_settings("."), extra=[...]) + [Check("app: ...", ok, "detail")]
    render(checks); raise SystemExit(exit_code(checks))
"""

from localbase.doctor.checks import (
           CHECKS,
           Check,
           Context,
           load_doctor_settings,
           run_checks,
           run_checks_async,
)
from localbase.doctor.report import exit_code, render, summary, to_json

__all__ = ["CHECKS", "Check", "Context", "exit_code", "load_doctor_settings", "render", "run_checks",
           "run_checks_async", "summary", "to_json"]
