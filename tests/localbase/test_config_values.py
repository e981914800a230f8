"""One boolean parser and one duration format for every setting (localbase/config_values.py), each
error naming where the value was written and what is allowed."""

from __future__ import annotations

import pytest

from localbase.config_values import SettingsError, choice, parse_bool, parse_seconds


@pytest.mark.parametrize(("value", "expected"), [(True, True), (False, False), ("true", True), ("ON", True),
                                                 ("1", True), ("yes", True), ("false", False), ("Off", False),
                                                 ("0", False), ("no", False)])
def test_booleans(value, expected):
    assert parse_bool(value, "[x] y") is expected


def test_a_bad_boolean_names_its_key():
    with pytest.raises(SettingsError, match=r"^supabase/config.toml \[auth\] enable_signup must be true or false, "
                                            r"got 'maybe'$"):
        parse_bool("maybe", "supabase/config.toml [auth] enable_signup")


@pytest.mark.parametrize(("value", "seconds"), [(5, 5.0), (0.5, 0.5), ("30", 30.0), ("30s", 30.0), ("5m", 300.0),
                                                ("1.5h", 5400.0), ("2d", 172800.0), ("250ms", 0.25)])
def test_durations(value, seconds):
    assert parse_seconds(value, "[x] y") == seconds


@pytest.mark.parametrize("value", ["soon", "5 minutes", "-5m", "0s", "1w", True])
def test_a_bad_duration_says_what_is_allowed(value):
    with pytest.raises(SettingsError, match=r"^\[backup\] schedule must be"):
        parse_seconds(value, "[backup] schedule")


def test_named_durations():
    assert parse_seconds("daily", "[backup] schedule", named={"daily": 86400}) == 86400
    with pytest.raises(SettingsError, match="must be daily or a duration"):
        parse_seconds("monthly", "[backup] schedule", named={"daily": 86400})


def test_a_choice_lists_the_allowed_values():
    with pytest.raises(SettingsError, match=r"must be one of '', letters_digits, got 'x'$"):
        choice("x", "[auth] password_requirements", ("", "letters_digits"))
    assert choice("Letters_Digits", "k", ("", "letters_digits")) == "letters_digits"
