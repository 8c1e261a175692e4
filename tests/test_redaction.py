"""Redaction: every secret shape a plan or a program prints is masked, harmless names are not,
references survive, and values resolved from a secret are masked wherever they appear."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from odin_drills.steps.clock import ManualClock
from odin_drills.steps.journal import Journal
from odin_drills.steps.redact import forget_secrets, is_secret_key, redact, redact_text, register_secret

# (text, the secret it holds, what must still be there afterwards)
SHAPES = [
    ("GET https://maps.example.com/api?key=AIzaKey123456&page=2", "AIzaKey123456", "page=2"),
    ("POST https://fn.azurewebsites.net/api/restart?code=Zm9vYmFyYmF6&name=x", "Zm9vYmFyYmF6", "name=x"),
    ("https://acct.blob.core.windows.net/c/b?sv=2022-11-02&se=2026-01-01&sig=abcDEF%2B123%3D", "abcDEF", "sv=2022-11-02"),
    ("cloning https://deploy:hunter2pw@git.example.com/repo.git", "hunter2pw", "deploy:***@git.example.com"),
    ("postgres://admin:Pg-S3cret@db.internal:5432/orders", "Pg-S3cret", "db.internal:5432/orders"),
    ("curl -u admin:s3cretpw https://api.example.com/x", "s3cretpw", "curl -u admin:***"),
    ("curl --user=admin:s3cretpw https://api.example.com/x", "s3cretpw", "--user=admin:***"),
    ('{"routing_key": "R0ut1ngKey0123456789abcd", "event_action": "trigger"}', "R0ut1ngKey", '"event_action": "trigger"'),
    ("posted to https://hooks.slack.com/services/T0AAA/B0BBB/XXXXXXXXXXXXXXXXXXXXXXXX", "T0AAA", "posted to"),
    ("https://contoso.webhook.office.com/webhookb2/1111@2222/IncomingWebhook/abcd/3333", "IncomingWebhook", "<webhook-url ***>"),
    ("https://discord.com/api/webhooks/12345/tok-en_value", "tok-en_value", "discord.com/api/webhooks/"),
    ("https://ops.example.com/hooks/custom-hook-secret", "custom-hook-secret", "ops.example.com/hooks/"),
    ("https://events.pagerduty.com/integration/0123abcd4567efgh/enqueue", "0123abcd4567efgh", "events.pagerduty.com"),
    ("https://ci.example.com/job/run/a1b2c3d4e5f6a7b8c9d0e1f2a3b4", "a1b2c3d4e5f6a7b8c9d0e1f2a3b4", "ci.example.com/job/run/"),
    ("DB_PASSWORD=pw-value-1 ./migrate", "pw-value-1", "./migrate"),
    ("export DB_PASSWORD='pw value 2'", "pw value 2", "export DB_PASSWORD="),
    ("AZURE_CLIENT_SECRET: cs-value-3", "cs-value-3", "AZURE_CLIENT_SECRET: ***"),
    ("Authorization: Bearer abcdefghijklmnop", "abcdefghijklmnop", "Authorization: Bearer ***"),
    ("{'Authorization': 'token ghp_abcdef123456'}", "ghp_abcdef123456", "'Authorization': 'token ***'"),
    ("x-api-key: key-value-4", "key-value-4", "x-api-key: ***"),
    ("mysql --password hunter2pw --port 3306", "hunter2pw", "--port 3306"),
    ("Basic YWRtaW46c2VjcmV0", "YWRtaW46c2VjcmV0", "Basic ***"),
    ("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=abc+/key==;EndpointSuffix=core.windows.net",
     "abc+/key==", "AccountName=acct"),
    ("id eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTYifQ.c2lnbmF0dXJlLXZhbHVl", "eyJzdWIiOiIxMjM0NTYifQ", "id "),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----", "MIIEpAIBAAKCAQEA", ""),
]


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    forget_secrets()
    yield
    forget_secrets()


@pytest.mark.parametrize(("text", "secret", "kept"), SHAPES, ids=[s[0][:40] for s in SHAPES])
def test_each_secret_shape_is_masked_and_the_rest_kept(text: str, secret: str, kept: str) -> None:
    once = redact_text(text)
    assert secret not in once, once
    assert kept in once, once
    assert redact_text(once) == once  # reports redact journal text again: it must not get worse


HARMLESS = [
    "disaster_recovery: enabled",
    "disaster_region=westus",
    "continuation_token: c2VjcmV0LWxvb2tpbmc",
    "token_count: 5120",
    "nextPageToken=abc123",
    "sort_key: created_at",
    "status code=200 and basic functionality",
    "GET https://shop.example.com/api/orders/42?page=2&limit=10",
    "https://management.azure.com/subscriptions/9b1d2a3c-1111-2222-3333-444455556666/resourceGroups/rg",
    "https://events.pagerduty.com/v2/enqueue",
    "odin-sql-westus failover to westus took 12.5 s",
]


@pytest.mark.parametrize("text", HARMLESS)
def test_harmless_text_is_left_alone(text: str) -> None:
    assert redact_text(text) == text


def test_names_are_judged_by_their_words() -> None:
    secret = ["DB_PASSWORD", "AZURE_CLIENT_SECRET", "x-api-key", "apiKey", "routing_key", "access_token", "sasToken",
              "authToken", "AccountKey", "x-functions-key", "webhook_url", "Authorization", "client_secret", "pwd",
              "connection_string", "private_key", "basic_auth", "integration_key"]
    harmless = ["disaster_recovery", "disaster_zone", "continuation_token", "token_count", "nextPageToken",
                "sort_key", "key", "status", "undo_reason", "sasquatch", "passenger", "monkey", "tokenizer"]
    assert [n for n in secret if not is_secret_key(n)] == []
    assert [n for n in harmless if is_secret_key(n)] == []


def test_structured_redaction_masks_secret_keys_but_keeps_references() -> None:
    undo = {"kind": "http", "url": "https://api.example.com/w?code=${secret:FN_CODE}",
            "headers": {"Authorization": "Bearer ${secret:API_TOKEN}", "X-Api-Key": "literal-key-value",
                        "X-Pass": "${env:PASS}"},
            "json": {"password": "literal-pw", "db_password": "${file:/run/secrets/db}", "token_count": 7,
                     "continuation_token": "page-2", "disaster_recovery": True}}
    out = redact(undo)
    assert out["url"] == undo["url"]
    assert out["headers"] == {"Authorization": "Bearer ${secret:API_TOKEN}", "X-Api-Key": "***", "X-Pass": "${env:PASS}"}
    assert out["json"] == {"password": "***", "db_password": "${file:/run/secrets/db}", "token_count": 7,
                           "continuation_token": "page-2", "disaster_recovery": True}


def test_references_are_never_masked_in_text() -> None:
    text = ("PUT http://admin:${secret:ADMIN_PW}@127.0.0.1:9/hooks/${secret:HOOK}?key=${env:KEY} "
            "Authorization: Bearer ${secret:API} DB_PASSWORD=${file:/run/secrets/db} --password ${env:PW}")
    assert redact_text(text) == text


def test_a_registered_value_is_masked_in_any_shape_and_in_the_journal(tmp_path: Path) -> None:
    register_secret("plain-looking-value-9")
    register_secret("with space&amp/sl")  # its URL-encoded form too
    assert redact_text("the body echoed plain-looking-value-9 back") == "the body echoed *** back"
    assert redact_text("q=with%20space%26amp%2Fsl") == "q=***"
    assert redact_text('{"v": "plain-looking-value-9"}') == '{"v": "***"}'
    register_secret("abc")  # too short to mask without hiding everything else
    assert redact_text("abcdef") == "abcdef"
    journal = Journal(tmp_path / "j.jsonl", ManualClock())
    journal.append("step_finished", step="s", status="ok", detail="printed plain-looking-value-9",
                   output={"stdout": "x plain-looking-value-9", "lines": ["plain-looking-value-9"]})
    assert b"plain-looking-value-9" not in (tmp_path / "j.jsonl").read_bytes()
