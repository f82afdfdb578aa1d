"""A clean copy of the project, as a clone (or AWX's project sync) has it: the files git tracks or would add, with
links kept as links (the checkout's link to itself included)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.support.ansible_cli import REPO_ROOT


def project_files(source=REPO_ROOT, left_out=()):
    """What git tracks or would track in ``source`` (.gitignore respected), less the paths starting with
    ``left_out``."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=source,
                            capture_output=True, check=True, timeout=60).stdout.decode().split("\0")
    return sorted({name for name in listed if name and not name.startswith(tuple(left_out))})


def copy_project(dest, source=REPO_ROOT, files=None):
    """``files`` (by default every project file) of ``source`` copied to ``dest``."""
    dest = Path(dest)
    for name in files if files is not None else project_files(source):
        src, out = Path(source) / name, dest / name
        if not src.is_symlink() and not src.exists():
            continue  # deleted in the working tree, not yet in git
        out.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), out)
        else:
            shutil.copy2(src, out)
    return dest
