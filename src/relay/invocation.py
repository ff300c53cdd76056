"""How the `relay` command was started, so that a hint naming a command runs as printed.

`make run` starts `.venv/bin/relay`, whose directory is on no PATH until the venv is
activated: a hint saying `relay tenants create` would answer "command not found".
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys


def invoked_as(name: str = "relay") -> str:
    """`name` when the shell finds this very program by it (an activated venv, an
    installed tool); else the path this process was started by, as typed
    (`.venv/bin/relay`, which runs from where it was typed)."""
    started = sys.argv[0]
    if os.path.basename(started) != name:
        return name  # started some other way (a test runner, python -c): no path to give
    found = shutil.which(name)
    try:
        if found and os.path.samefile(found, started):
            return name
    except OSError:
        return name
    return shlex.quote(started)
