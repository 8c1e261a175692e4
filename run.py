#!/usr/bin/env python3
"""The README's two commands, on a fresh machine with nothing but Python 3.11+.

    python3 run.py demo [--clean]     the demo migration on the embedded default
    python3 run.py test [pytest args] the whole test suite

Both create ``.venv`` beside this file on first use and install the project into it (about a
minute), then run inside it. Anything else after ``run.py`` is passed to ``odin``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".odin-installed"


def ensure_environment() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"odin-drills needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    pyproject = ROOT / "pyproject.toml"
    if STAMP.exists() and STAMP.read_text() == pyproject.read_text():
        return
    if not (BIN / "python").exists():
        print("run.py: creating .venv ...", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("run.py: installing odin-drills and its dependencies into .venv ...", file=sys.stderr)
    subprocess.run([str(BIN / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "-e", f"{ROOT}[test]"], check=True)
    STAMP.write_text(pyproject.read_text())


def main() -> int:
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    ensure_environment()
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    if args[0] == "test":
        return subprocess.call([str(BIN / "python"), "-m", "pytest", *args[1:]], cwd=ROOT, env=env)
    return subprocess.call([str(BIN / "odin"), *args], cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
