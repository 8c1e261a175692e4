"""``pip install`` puts exactly one top-level package, ``odin_drills``, into site-packages.

The wheel is built from the checkout (no network: the venv's own setuptools, no build isolation)
and its file list read back: every product module of the mapped folders is inside
``odin_drills/``, and nothing else sits at the top besides the dist-info.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"odin_drills": "odin_drills", "odin_drills/steps": "steps", "odin_drills/flows": "flows",
           "odin_drills/sandbox": "sandbox", "odin_drills/drills": "drills"}


def test_the_wheel_installs_one_top_level_package_holding_every_module(tmp_path: Path) -> None:
    source = tmp_path / "src"  # a copy, so no stale build/ folder of the checkout leaks in
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info",
                                                                  "__pycache__", "tests", "bench"))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "--disable-pip-version-check", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert build.returncode == 0, build.stderr
    wheels = list((tmp_path / "dist").glob("odin_drills-*.whl"))
    assert len(wheels) == 1
    names = zipfile.ZipFile(wheels[0]).namelist()
    top = {name.split("/")[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"odin_drills"}
    expected = {f"{package}/{path.relative_to(ROOT / folder).as_posix()}"
                for package, folder in FOLDERS.items() for path in (ROOT / folder).rglob("*.py")}
    assert expected - set(names) == set(), "modules missing from the wheel (add the package to pyproject.toml)"
    plans = {f"odin_drills/drills/{p.name}" for p in (ROOT / "drills").glob("*.yaml")}
    assert "odin_drills/drills/migration-demo.yaml" in plans and plans <= set(names)
    templates = [p for p in (ROOT / "odin_drills" / "reports" / "templates").glob("*") if p.is_file()]
    assert {f"odin_drills/reports/templates/{p.name}" for p in templates} <= set(names)
