"""The deployments' run forms a person fills in (issue 15): a choice of plan files, options shown
with their defaults, a description on every field.

Real parts: ``prefect deploy --all`` from ``prefect.yaml`` against the session's Prefect server,
the deployments read back from its API (the schema the UI draws its form from), and, where
headless Chromium is installed, the UI's own run page rendered and kept as a screenshot.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from odin_drills.flows.plan_choices import project_plans
from tests.deploy_helpers import deploy_all
from tests.test_prefect_ui import chromium, render

FORMS = {"region-failover-drill/region-failover-drill": "drill", "dr-test/quarterly-dr-test": "drill",
         "region-failover/region-failover-incident": "drill", "migration/migration": "migration"}


@pytest.fixture
def forms(odin_env: dict[str, str]) -> dict[str, dict]:
    """Each deployment as the API returns it, deployed the way an operator does (no $ODIN_PLAN_ROOT)."""
    odin_env.pop("ODIN_PLAN_ROOT", None)
    deploy_all(odin_env)
    api = odin_env["PREFECT_API_URL"]
    return {name: httpx.get(f"{api}/deployments/name/{name}", timeout=10).raise_for_status().json() for name in FORMS}


def test_plan_file_is_a_choice_of_the_project_plan_files(forms: dict[str, dict]) -> None:
    drills, migrations = project_plans("drill"), project_plans("migration")
    assert {"drills/quarterly-dr-test.yaml", "drills/region-failover-sandbox.yaml"} <= set(drills)
    assert "drills/migration-demo.yaml" in migrations and not set(drills) & set(migrations)
    assert "drills/restore-sandbox.yaml" not in drills + migrations  # another kind: another deployment
    for name, kind in FORMS.items():
        schema = forms[name]["parameter_openapi_schema"]
        plan_file = schema["properties"]["plan_file"]
        assert plan_file["type"] == "string" and plan_file["enum"] == project_plans(kind), (name, plan_file)
        assert not any(".template." in choice for choice in plan_file["enum"])  # templates are not runnable
        assert forms[name]["parameters"]["plan_file"] in plan_file["enum"]  # prefect.yaml's default is a choice
        assert forms[name]["enforce_parameter_schema"] is False  # the plan-root rule, not the enum, guards it


def test_every_field_is_described_and_none_hides_behind_a_none_toggle(forms: dict[str, dict]) -> None:
    for name in FORMS:
        schema = forms[name]["parameter_openapi_schema"]
        for field, spec in schema["properties"].items():
            assert spec.get("description"), f"{name}: {field} has no description"
            assert "anyOf" not in spec, f"{name}: {field} is drawn behind a type toggle: {spec}"


def test_the_drill_options_are_shown_filled_with_their_defaults(forms: dict[str, dict]) -> None:
    from odin_drills.steps.dr.run import DrillOptions

    schema = forms["region-failover-drill/region-failover-drill"]["parameter_openapi_schema"]
    options = schema["properties"]["options"]
    assert options["default"] == DrillOptions().model_dump(mode="json")
    assert options["default"]["failback"] is True and options["default"]["max_parallel"] == 0  # the drill file's
    fields = schema["definitions"]["DrillOptions"]["properties"]
    assert all(spec.get("description") for spec in fields.values())
    migration = forms["migration/migration"]
    phase = migration["parameter_openapi_schema"]["properties"]["phase"]
    assert phase["enum"] == ["all", "t-1w", "t0", "t+1h", "t+24h"] and phase["default"] == "all"
    assert migration["parameters"]["chain"] is True  # shown checked: each phase its own flow run


def test_the_incident_deployment_opts_into_incident_mode_with_a_person_confirming(forms: dict[str, dict]) -> None:
    """Issue 12: a real outage from the UI: no drill, nothing injected, a person confirms, no automatic failback."""
    incident = forms["region-failover/region-failover-incident"]
    assert incident["entrypoint"] == "flows/region_failover.py:region_failover"
    assert {k: incident["parameters"][k] for k in ("drill", "human_confirm", "failback", "inject_outage")} == \
        {"drill": False, "human_confirm": True, "failback": False, "inject_outage": False}
    fields = incident["parameter_openapi_schema"]["properties"]
    assert {"drill", "human_confirm", "allow_production", "wait_for_lock"} <= set(fields)


def test_a_plan_root_of_ones_own_makes_plan_file_a_path_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from odin_drills.flows.plan_choices import plan_file_type

    assert plan_file_type("drill") is not str
    monkeypatch.setenv("ODIN_PLAN_ROOT", str(tmp_path))
    assert plan_file_type("drill") is str


def test_the_run_form_renders_the_choices(forms: dict[str, dict], odin_env: dict[str, str], tmp_path: Path) -> None:
    browser = chromium()  # skips where headless Chromium is not installed
    deployment = forms["region-failover-drill/region-failover-drill"]
    page = odin_env["PREFECT_API_URL"].removesuffix("/api") + f"/deployments/deployment/{deployment['id']}/run"
    dom = ""
    for _ in range(3):  # the form is drawn after the schema loads
        dom = render(browser, page, "--dump-dom").stdout
        if "region-failover-sandbox.yaml" in dom and "Failback" in dom:
            break
    assert "region-failover-sandbox.yaml" in dom and "Failback" in dom
    shot = tmp_path / "region-failover-drill-run-form.png"
    render(browser, page, f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000
    print(f"run form screenshot: {shot}")
