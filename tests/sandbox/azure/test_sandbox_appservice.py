"""The sandbox's App Service: the real azure-mgmt-web client over HTTPS — plans scaled, app settings
and connection strings listed and replaced — with Azure's rules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.web import WebSiteManagementClient, models

from odin_drills.sandbox.azure import AzureSandbox

from conftest import FakeCredential, sdk_kwargs

PLAN, APP = "odin-plan-westus", "app-westus"


@pytest.fixture
def web(sandbox: AzureSandbox) -> Iterator[WebSiteManagementClient]:
    info = sandbox.info()
    client = WebSiteManagementClient(FakeCredential(), info["subscription_id"], **sdk_kwargs(info))
    try:
        yield client
    finally:
        client.close()


def test_each_region_has_a_plan_at_one_instance_and_an_app_pointing_at_the_primary(sandbox, web):
    rg, resources = sandbox.info()["resource_group"], sandbox.info()["resources"]
    for region in ("eastus", "westus"):
        plan = web.app_service_plans.get(rg, f"odin-plan-{region}")
        assert (plan.id, plan.sku.capacity, plan.properties.number_of_sites) == (
            resources["app_service_plans"][region], 1, 1)
        settings = web.web_apps.list_application_settings(rg, f"app-{region}")
        assert settings.properties == {"DB_TARGET": "odin-sql-eastus"}
        strings = web.web_apps.list_connection_strings(rg, f"app-{region}").properties
        assert list(strings) == ["orders"] and strings["orders"].type == models.ConnectionStringType.SQL_AZURE
        assert "odin-fg.database.windows.net" in strings["orders"].value  # the failover group's listener


def test_a_plan_is_scaled_by_putting_it_back_with_a_new_capacity(sandbox, web):
    rg = sandbox.info()["resource_group"]
    plan = web.app_service_plans.get(rg, PLAN)
    plan.sku.capacity = 4
    done = web.app_service_plans.begin_create_or_update(rg, PLAN, plan).result()
    assert done.sku.capacity == 4 and done.properties.number_of_workers == 4
    assert web.app_service_plans.get(rg, PLAN).sku.capacity == 4
    assert sandbox.state()["app_service_plans"] == {"odin-plan-eastus": 1, "odin-plan-westus": 4}


def test_a_patch_without_a_sku_changes_no_capacity(sandbox, web):
    rg = sandbox.info()["resource_group"]
    patched = web.app_service_plans.update(rg, PLAN, models.AppServicePlanPatchResource(kind="app"))
    assert patched.sku.capacity == 1


def test_more_workers_than_the_tier_allows_is_a_400_and_changes_nothing(sandbox, web):
    rg = sandbox.info()["resource_group"]
    plan = web.app_service_plans.get(rg, PLAN)
    plan.sku.capacity = 31
    with pytest.raises(HttpResponseError) as raised:
        web.app_service_plans.begin_create_or_update(rg, PLAN, plan).result()
    assert raised.value.status_code == 400 and raised.value.error.code == "BadRequest"
    assert web.app_service_plans.get(rg, PLAN).sku.capacity == 1


def test_putting_app_settings_replaces_the_whole_set(sandbox, web):
    rg = sandbox.info()["resource_group"]
    web.web_apps.update_application_settings(rg, APP, models.StringDictionary(properties={"A": "1", "B": "2"}))
    assert web.web_apps.list_application_settings(rg, APP).properties == {"A": "1", "B": "2"}
    assert web.web_apps.list_application_settings(rg, "app-eastus").properties == {"DB_TARGET": "odin-sql-eastus"}


def test_putting_connection_strings_replaces_the_whole_set_and_checks_the_type(sandbox, web):
    rg = sandbox.info()["resource_group"]
    body = models.ConnectionStringDictionary(properties={
        "cache": models.ConnStringValueTypePair(value="redis://x", type=models.ConnectionStringType.REDIS_CACHE)})
    answered = web.web_apps.update_connection_strings(rg, APP, body)
    assert answered.id == f"{sandbox.info()['resources']['web_apps']['westus']}/config/connectionstrings"
    listed = web.web_apps.list_connection_strings(rg, APP).properties
    assert {k: (v.value, v.type) for k, v in listed.items()} == {"cache": ("redis://x", "RedisCache")}
    with pytest.raises(HttpResponseError) as raised:
        web.web_apps.update_connection_strings(rg, APP, {"properties": {"x": {"value": "v", "type": "Oracle"}}})
    assert raised.value.status_code == 400


def test_unknown_plans_and_apps_are_404(sandbox, web):
    rg = sandbox.info()["resource_group"]
    with pytest.raises(ResourceNotFoundError):
        web.app_service_plans.get(rg, "nope")
    with pytest.raises(ResourceNotFoundError):
        web.web_apps.list_application_settings(rg, "nope")


def test_the_world_summary_names_keys_but_never_values(sandbox):
    state = sandbox.state()
    assert state["web_apps"][APP] == {"app_settings": ["DB_TARGET"], "connection_strings": ["orders"]}
    assert "database.windows.net" not in str(state)
