"""Password hashing (bcrypt, GoTrue-compatible $2a$/$2b$ hashes) and the password policy.

bcrypt runs on the hashing threads, one per core (it releases the GIL, so sign-ins hash on every
core at once, and a hash never waits behind other blocking work such as a mail being sent); the
event loop never blocks. A sign-in
for an unknown email, or a user without a password, still costs one bcrypt verification against
a dummy hash of the same cost, so timing does not reveal whether an account exists."""

from __future__ import annotations

import asyncio
import os
import string
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

from localbase.auth import errors
from localbase.auth.config import AuthConfig

MAX_BYTES = 72  # bcrypt only reads 72 bytes; longer passwords are refused, as GoTrue does

_CHARSETS = {
    "letters_digits": (string.ascii_letters, string.digits),
    "lower_upper_letters_digits": (string.ascii_lowercase, string.ascii_uppercase, string.digits),
    "lower_upper_letters_digits_symbols": (string.ascii_lowercase, string.ascii_uppercase,
                                           string.digits, string.punctuation),
}


def check_policy(password: str, config: AuthConfig) -> None:
    """Raise GoTrue's weak_password (422) or validation error for a password that breaks policy."""
    if len(password.encode()) > MAX_BYTES:
        raise errors.VALIDATION_FAILED_UNPROCESSABLE(f"Password cannot be longer than {MAX_BYTES} characters")
    reasons: list[str] = []
    messages: list[str] = []
    if len(password) < config.minimum_password_length:
        reasons.append("length")
        messages.append(f"Password should be at least {config.minimum_password_length} characters.")
    sets = _CHARSETS.get(config.password_requirements)
    if sets and not all(any(c in charset for c in password) for charset in sets):
        reasons.append("characters")
        messages.append("Password should contain at least one character of each: "
                        + ", ".join(sets) + ".")
    if reasons:
        raise errors.WEAK_PASSWORD(" ".join(messages), extra={"weak_password": {"reasons": reasons}})


def _bcrypt():
    """bcrypt, imported by the first hashing (on a hashing thread; ~0.3 MB an idle server does without)."""
    import bcrypt
    return bcrypt


def _hash_sync(password: str, cost: int) -> str:
    bcrypt = _bcrypt()
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost)).decode()


def _verify_sync(password: str, hashed: str) -> bool:
    candidate = password.encode()
    if len(candidate) > MAX_BYTES:
        candidate = candidate[:MAX_BYTES]  # still spend the time; the caller refuses long input
    try:
        return _bcrypt().checkpw(candidate, hashed.encode())
    except ValueError:  # not a bcrypt hash (e.g. an argon2 hash we cannot check)
        return False


_hashing = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="bcrypt")


async def _hashing_thread(fn, *args):
    return await asyncio.get_running_loop().run_in_executor(_hashing, fn, *args)


async def hash_password(password: str, cost: int) -> str:
    return await _hashing_thread(_hash_sync, password, cost)


@lru_cache(maxsize=8)
def _dummy_hash(cost: int) -> str:
    return _hash_sync("localbase-dummy-password", cost)


async def verify_password(password: str, hashed: str | None, cost: int) -> bool:
    """Constant work whether or not `hashed` exists; bcrypt's own comparison is constant-time."""
    if not hashed or not hashed.startswith("$2"):
        await _hashing_thread(_verify_dummy, password, cost)
        return False
    ok = await _hashing_thread(_verify_sync, password, hashed)
    return ok and len(password.encode()) <= MAX_BYTES


def _verify_dummy(password: str, cost: int) -> None:
    _verify_sync(password, _dummy_hash(cost))


def warm_up(cost: int) -> None:
    """The dummy hash made ahead, on a hashing thread (the event loop does not wait for it)."""
    _hashing.submit(_dummy_hash, cost)


def valid_hash(hashed: str) -> bool:
    """An imported bcrypt hash (admin create_user with password_hash)."""
    try:
        _bcrypt().checkpw(b"", hashed.encode())
        return True
    except ValueError:
        return False
