"""Password hashing with argon2id, off the event loop; plain passwords are never stored
or logged.

One hash takes about 125 ms of CPU. On the event loop that stalled every request of
the worker (8 clients signing in took API writes from 1,636 to 12 in 6 s), so hashes
run in a pool of HASHING_THREADS threads (argon2 releases the GIL): the rest queue
without blocking anything else. Callers hash before they open a database
transaction, so no lock is held while argon2 works.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # argon2 hashes any length; this bounds the work per request
HASHING_THREADS = 1

_hasher = PasswordHasher()  # argon2id with the library's current recommended costs
_pool = ThreadPoolExecutor(max_workers=HASHING_THREADS, thread_name_prefix="relay-argon2")


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_pool, _hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    return await asyncio.get_running_loop().run_in_executor(_pool, _verify, password_hash, password)


# Compared against when an email is unknown, so both answers cost the same.
DECOY_HASH = _hasher.hash("decoy password that matches nothing")
