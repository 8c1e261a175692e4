"""The sandbox's Azure DNS: the real azure-mgmt-dns client over HTTPS, and a real UDP name server
that answers what ARM holds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.dns import DnsManagementClient
from azure.mgmt.dns import models
from dnslib import QTYPE, RCODE, DNSRecord

from odin_drills.sandbox.azure import AzureSandbox

from conftest import FakeCredential, sdk_kwargs

ZONE = "odin-demo.example"


@pytest.fixture
def dns(sandbox: AzureSandbox) -> Iterator[DnsManagementClient]:
    info = sandbox.info()
    client = DnsManagementClient(FakeCredential(), info["subscription_id"], **sdk_kwargs(info))
    try:
        yield client
    finally:
        client.close()


def ask(sandbox: AzureSandbox, name: str, qtype: str = "A") -> tuple[str, list[str]]:
    """A real UDP question to the sandbox's name server: (rcode, answers of ``qtype``)."""
    host, port = sandbox.info()["dns_server"].split(":")
    reply = DNSRecord.parse(DNSRecord.question(name, qtype).send(host, int(port), timeout=2))
    wanted = getattr(QTYPE, qtype)
    return RCODE.get(reply.header.rcode), sorted(str(rr.rdata) for rr in reply.rr if rr.rtype == wanted)


def test_the_zone_names_the_sandboxs_responder_as_its_name_server(sandbox, dns):
    zone = dns.zones.get(sandbox.info()["resource_group"], ZONE)
    assert zone.name_servers == [sandbox.info()["dns_server"]]
    assert zone.id == sandbox.info()["resources"]["dns_zones"][0]
    assert zone.number_of_record_sets == 3


def test_app_starts_as_a_cname_to_the_primary_regions_app(sandbox, dns):
    rg = sandbox.info()["resource_group"]
    app = dns.record_sets.get(rg, ZONE, "app", "CNAME")
    assert (app.cname_record.cname, app.ttl, app.fqdn) == ("app-eastus.odin-demo.example", 60, "app.odin-demo.example.")
    assert ask(sandbox, "app.odin-demo.example", "CNAME") == ("NOERROR", ["app-eastus.odin-demo.example."])
    assert ask(sandbox, "app.odin-demo.example", "A") == ("NOERROR", ["127.0.0.1"])  # the CNAME followed


def test_put_get_delete_through_the_sdk_and_the_name_server_follows(sandbox, dns):
    rg = sandbox.info()["resource_group"]
    assert ask(sandbox, "api.odin-demo.example") == ("NXDOMAIN", [])
    created = dns.record_sets.create_or_update(rg, ZONE, "api", "A", models.RecordSet(
        ttl=30, a_records=[models.ARecord(ipv4_address="10.0.0.2"), models.ARecord(ipv4_address="10.0.0.1")]))
    assert sorted(r.ipv4_address for r in created.a_records) == ["10.0.0.1", "10.0.0.2"] and created.ttl == 30
    assert ask(sandbox, "api.odin-demo.example") == ("NOERROR", ["10.0.0.1", "10.0.0.2"])

    dns.record_sets.create_or_update(rg, ZONE, "API", "A", models.RecordSet(
        ttl=30, a_records=[models.ARecord(ipv4_address="10.9.9.9")]))  # names are case-insensitive
    got = dns.record_sets.get(rg, ZONE, "api", "A")
    assert [r.ipv4_address for r in got.a_records] == ["10.9.9.9"] and got.name == "api"
    assert ask(sandbox, "api.odin-demo.example") == ("NOERROR", ["10.9.9.9"])

    dns.record_sets.delete(rg, ZONE, "api", "A")
    with pytest.raises(ResourceNotFoundError):
        dns.record_sets.get(rg, ZONE, "api", "A")
    assert ask(sandbox, "api.odin-demo.example") == ("NXDOMAIN", [])
    dns.record_sets.delete(rg, ZONE, "api", "A")  # already gone: 204, no error


def test_moving_the_cname_changes_what_resolvers_get(sandbox, dns):
    rg = sandbox.info()["resource_group"]
    dns.record_sets.create_or_update(rg, ZONE, "app", "CNAME", models.RecordSet(
        ttl=60, cname_record=models.CnameRecord(cname="app-westus.odin-demo.example")))
    assert ask(sandbox, "app.odin-demo.example", "CNAME") == ("NOERROR", ["app-westus.odin-demo.example."])


def test_a_cname_cannot_share_its_name(sandbox, dns):
    rg = sandbox.info()["resource_group"]
    with pytest.raises(HttpResponseError) as raised:
        dns.record_sets.create_or_update(rg, ZONE, "app", "A", models.RecordSet(
            ttl=60, a_records=[models.ARecord(ipv4_address="10.0.0.1")]))
    assert raised.value.status_code == 409 and raised.value.error.code == "Conflict"


def test_an_unknown_zone_is_404_and_names_outside_the_zones_are_refused(sandbox, dns):
    with pytest.raises(ResourceNotFoundError):
        dns.zones.get(sandbox.info()["resource_group"], "nope.example")
    assert ask(sandbox, "example.com") == ("REFUSED", [])


def test_a_dns_stale_fault_keeps_the_old_answer_while_arm_shows_the_new(sandbox, dns):
    rg = sandbox.info()["resource_group"]
    fault = sandbox.faults.add({"kind": "dns_stale", "zone": ZONE})
    dns.record_sets.create_or_update(rg, ZONE, "app", "CNAME", models.RecordSet(
        ttl=60, cname_record=models.CnameRecord(cname="app-westus.odin-demo.example")))
    assert dns.record_sets.get(rg, ZONE, "app", "CNAME").cname_record.cname == "app-westus.odin-demo.example"
    assert ask(sandbox, "app.odin-demo.example", "CNAME") == ("NOERROR", ["app-eastus.odin-demo.example."])
    sandbox.faults.remove(fault["id"])
    assert ask(sandbox, "app.odin-demo.example", "CNAME") == ("NOERROR", ["app-westus.odin-demo.example."])


def test_the_responder_stops_with_the_sandbox(start_sandbox):
    sandbox = start_sandbox()
    host, port = sandbox.info()["dns_server"].split(":")
    sandbox.stop()
    with pytest.raises(OSError):  # timeout or refused: nothing answers any more
        DNSRecord.question("app.odin-demo.example").send(host, int(port), timeout=0.5)
