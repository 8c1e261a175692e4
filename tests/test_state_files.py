"""State under ``$ODIN_HOME`` is its owner's only: folders 0700, files 0600, whatever the umask.

Checked by ``stat`` after real runs started with a permissive ``umask 022`` and an ``$ODIN_HOME``
that already exists world-readable: a migration and an ``odin rollback`` (journal, baseline,
reports, ``current``), and a scored drill (journal, scorecard, reports, history, the in-process
sandbox's folder). The helpers themselves are checked on files and folders an older odin left open.
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
from pathlib import Path

from tests.conftest import ODIN, ROOT
from tests.test_migration_e2e import journal, kinds, shop, write_plan  # noqa: F401  (fixture)


def odin_with_umask(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ODIN, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, umask=0o022)


def modes(home: Path) -> dict[str, str]:
    """Every path under ``home`` (and home itself) with its permission bits, for one readable assertion."""
    return {str(p.relative_to(home.parent)): oct(stat.S_IMODE(p.lstat().st_mode))
            for p in [home, *sorted(home.rglob("*"))]}


def assert_private(home: Path) -> None:
    found = modes(home)
    wrong = {path: mode for path, mode in found.items()
             if mode != ("0o700" if (home.parent / path).is_dir() else "0o600")}
    assert not wrong, wrong
    assert len(found) > 3, found  # there was state to check


def test_a_migration_and_a_rollback_leave_only_private_state(tmp_path: Path, odin_env: dict, shop) -> None:
    home = Path(odin_env["ODIN_HOME"])
    home.chmod(0o755)  # an existing home, readable by everyone: odin closes it
    plan = write_plan(tmp_path, shop.router_url, name="private-state")
    done = odin_with_umask(["migrate", str(plan), "--time-scale", "200000"], odin_env)
    assert done.returncode == 0, done.stderr[-3000:]
    rolled = odin_with_umask(["rollback", str(plan), "--reason", "state file check", "--by", "dana",
                              "--time-scale", "200000"], odin_env)
    assert rolled.returncode == 3, rolled.stderr[-3000:]  # rolled back, healthy again
    assert shop.weights() == {"blue": 100, "green": 0}

    found = modes(home)
    run = next(p for p in found if p.endswith("journal.jsonl")).removesuffix("/journal.jsonl")
    for name in ("journal.jsonl", "baseline.json", "report.md", "report.html"):
        assert found[f"{run}/{name}"] == "0o600", (name, found)
    assert_private(home)

    # the rollback's decision: the typed name and the identity odin checked, in the journal and the report
    human = kinds(journal(odin_env, "private-state"), "human_input")[-1]["data"]
    me = f"os:{pwd.getpwuid(os.getuid()).pw_name} (uid {os.getuid()})"
    assert (human["by"], human["verified_as"]) == ("dana", me)
    assert f"| dana | {me} | state file check |" in (home.parent / run / "report.md").read_text()


def test_a_scored_drill_leaves_only_private_state(odin_env: dict) -> None:
    home = Path(odin_env["ODIN_HOME"])
    done = odin_with_umask(["drill", str(ROOT / "drills" / "region-failover-sandbox.yaml"), "--time-scale", "60",
                            "--json", "--quiet"], odin_env, timeout=400)
    assert done.returncode in (0, 3), done.stderr[-3000:]
    found = modes(home)
    assert any(p.endswith("scorecard.json") for p in found) and any(p.endswith("region-failover-sandbox.jsonl")
                                                                    for p in found), found
    assert any(p.endswith("/sandbox") for p in found), found  # the in-process sandbox's folder
    assert_private(home)


def test_the_helpers_close_what_an_older_odin_left_open(tmp_path: Path, monkeypatch) -> None:
    from odin_drills.home import drills_dir, open_private, write_private

    home = tmp_path / "home"
    (home / "drills").mkdir(parents=True, mode=0o755)
    home.chmod(0o755)
    (home / "drills").chmod(0o755)
    old = home / "drills" / "p.jsonl"
    old.write_text("{}\n")
    old.chmod(0o644)
    monkeypatch.setenv("ODIN_HOME", str(home))
    previous = os.umask(0o000)  # the worst umask: everything requested is granted
    try:
        folder = drills_dir("p")
        with open_private(old, "a") as handle:
            handle.write("{}\n")
        write_private(folder / "report.md", "# report\n")
        link = folder / "link.md"
        link.symlink_to(tmp_path / "elsewhere.md")
        write_private(link, "x")  # the link is replaced, never written through
    finally:
        os.umask(previous)
    assert not (tmp_path / "elsewhere.md").exists()
    assert old.read_text() == "{}\n{}\n"
    assert_private(home)
