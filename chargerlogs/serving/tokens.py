"""Sign-in tokens: generated at random, kept only as their sha256 in the serving store.

A token carries 256 random bits, so a fast hash is enough: nothing short of the token itself can be
found from its hash by guessing, and a fast hash lets the store look a token up by an index.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from pathlib import Path

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")


def new_token() -> str:
    """A new random token: 32 bytes, URL-safe base64 without padding (43 characters)."""
    return secrets.token_urlsafe(32)


def token_sha256(token: str) -> str:
    """The hex sha256 of ``token``, as the store keeps it."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def is_well_formed(token: str) -> bool:
    """True when ``token`` has the shape of a token this module makes."""
    return bool(TOKEN_PATTERN.match(token))


def read_token_file(path: Path) -> dict[int, str]:
    """The demo tokens kept in ``path`` (user id -> token); empty when the file does not exist."""
    if not path.exists():
        return {}
    return {int(user_id): token for user_id, token in json.loads(path.read_text()).items()}


def write_token_file(path: Path, tokens: dict[int, str]) -> None:
    """Write the demo tokens to ``path``, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({str(user_id): tokens[user_id] for user_id in sorted(tokens)}, indent=2)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text + "\n")
