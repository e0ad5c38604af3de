"""wearstream at another git revision, beside this checkout in the same run: before and after meet
the same machine minute.

``--systems wearstream@8ed4064`` (or ``wearstream-sqlite@REV``) names a revision of this
repository. Each revision is exported once per run (``git archive``) into a temporary directory
laid out as ``<dir>/wearstream/`` (the repository root is the package), and its broker runs with
``PYTHONPATH=<dir>:<dir>/wearstream`` and ``PYTHONSAFEPATH=1``: that revision's ``wearstream``
and its own ``bench.memory_broker`` come first, ahead of this checkout's editable install (a
finder at the end of ``sys.meta_path``) and of the working directory. Dependencies are this
venv's. The load generators stay this checkout's, so both sides are driven the same way.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import attrs

ROOT = Path(__file__).resolve().parent.parent
SEPARATOR = "@"


class RevisionError(SystemExit):
    """A revision that git does not know, or a repository git cannot read: said in one line."""


@attrs.frozen
class Revision:
    spelling: str  # as the command line gave it: 8ed4064, main, HEAD~3
    commit: str  # the full hash it resolved to when the run began
    code: Path  # the directory to put on PYTHONPATH first (holds ``wearstream/``)

    @property
    def short(self) -> str:
        return self.commit[:7]


def split(name: str) -> tuple[str, str | None]:
    """``wearstream@REV`` -> (``wearstream``, ``REV``); a name without ``@`` -> (name, None)."""
    base, at, revision = name.partition(SEPARATOR)
    return base, (revision if at else None)


def resolve(spelling: str, repository: Path = ROOT) -> str:
    """The full commit hash of ``spelling`` in ``repository``."""
    result = subprocess.run(
        ["git", "-C", str(repository), "rev-parse", "--verify", "--quiet", f"{spelling}^{{commit}}"],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise RevisionError(f"git knows no revision {spelling!r} in {repository}: name a commit, branch or tag")
    return result.stdout.strip()


def export(commit: str, into: Path, repository: Path = ROOT) -> Path:
    """The tree of ``commit`` written to ``into/wearstream/`` (no .git, no worktree to remove)."""
    archive = subprocess.Popen(
        ["git", "-C", str(repository), "archive", "--format=tar", "--prefix=wearstream/", commit],
        stdout=subprocess.PIPE,
    )
    assert archive.stdout is not None
    untar = subprocess.run(["tar", "-x", "-C", str(into)], stdin=archive.stdout, capture_output=True)
    archive.stdout.close()
    if archive.wait() != 0 or untar.returncode != 0:
        raise RevisionError(f"could not export {commit} with git archive: {untar.stderr.decode().strip()}")
    return into


@contextlib.contextmanager
def exported(spellings: list[str], repository: Path = ROOT) -> Iterator[dict[str, Revision]]:
    """Each revision exported once, for the length of the run; removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="bench-revisions-") as tmp:
        revisions = {}
        for spelling in dict.fromkeys(spellings):
            commit = resolve(spelling, repository)
            code = Path(tmp) / commit
            code.mkdir(exist_ok=True)
            if not (code / "wearstream").exists():
                export(commit, code, repository)
            revisions[spelling] = Revision(spelling, commit, code)
        yield revisions


def environment(code: Path) -> dict[str, str]:
    """The variables that put the revision's code first in a child Python process."""
    return {
        "PYTHONPATH": os.pathsep.join([str(code), str(code / "wearstream")]),
        "PYTHONSAFEPATH": "1",  # `python -m` would otherwise put the working directory first
    }


@contextlib.contextmanager
def on_path(code: Path | None) -> Iterator[None]:
    """Child processes started inside run the revision's code (``None``: this checkout's).

    The broker launchers (testing.broker_process) start children with this process's
    environment, so the variables are set here for the time it takes to start them, then
    restored before the load generators are spawned.
    """
    if code is None:
        yield
        return
    changes = environment(code)
    saved = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
