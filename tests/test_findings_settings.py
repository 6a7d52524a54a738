"""Pure pieces: exit codes, the findings JSON contract, and secrets that never show."""

import jsonschema
import pytest

from richcoex_kit.connection import ConnectionSpec
from richcoex_kit.errors import UsageError
from richcoex_kit.findings import Finding, Status, document, exit_code, json_schema
from richcoex_kit.settings import MissingPasswordError, Secret, resolve_password


def finding(status: Status, fid: str = "acl.write.proxyAddresses") -> Finding:
    return Finding(
        fid, status, "title", "summary", object="CN=x,DC=y", details={"allowed": False, "deciding_ace": None}
    )


@pytest.mark.parametrize(
    "statuses, code",
    [([Status.PASS, Status.SKIP, Status.WARN], 0), ([Status.PASS, Status.FAIL], 1), ([Status.FAIL, Status.ERROR], 3)],
)
def test_exit_codes_schedulers_rely_on(statuses, code):
    assert exit_code([finding(s) for s in statuses]) == code


def test_document_validates_and_round_trips():
    doc = document([finding(Status.FAIL)], {"kind": "lab", "server": "x"}, "0.1.0")
    jsonschema.validate(doc, json_schema())
    assert Finding.from_json(doc["findings"][0]) == finding(Status.FAIL)
    bad = dict(doc, findings=[dict(doc["findings"][0], status="MAYBE")])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, json_schema())


def test_an_acl_write_verdict_has_one_shape_whoever_emits_it():
    doc = document([finding(Status.FAIL)], {"kind": "lab"}, "0.1.0")
    scan_shaped = dict(doc["findings"][0], details={"deciding_ace_sddl": "(D;;WP;;;S-1-5-11)"})
    with pytest.raises(jsonschema.ValidationError, match="allowed"):
        jsonschema.validate(dict(doc, findings=[scan_shaped]), json_schema())


def test_secret_never_shows_itself():
    secret = Secret("hunter2-Sup3r")
    assert "hunter2" not in repr(secret) + str(secret) + f"{secret}" + repr([secret])
    assert secret.reveal() == "hunter2-Sup3r"


def test_password_comes_from_the_environment_first():
    assert resolve_password("LAB\\svc", {"RICHCOEX_PASSWORD": "from-env"}).reveal() == "from-env"


def test_without_env_keyring_or_terminal_the_error_says_where_to_put_it(monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    monkeypatch.setattr("sys.stdin", None)
    with pytest.raises(MissingPasswordError, match="set RICHCOEX_PASSWORD"):
        resolve_password("LAB\\svc", {})


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"tls": "ssl"}, "--tls 'ssl'"),
        ({"auth": "ntlm"}, "--auth 'ntlm'"),
        ({"bind_user": ""}, "--bind-user is required"),
        ({"ca_file": "/nonexistent/ca.pem"}, "does not exist"),
        ({"port": 70000}, "--port 70000: expected a TCP port"),
        ({"snapshot": "x.json"}, "choose one target"),
    ],
)
def test_connection_options_are_rejected_by_name(kwargs, message):
    with pytest.raises(UsageError, match=message):
        ConnectionSpec(**{"server": "dc1", "bind_user": "LAB\\svc", **kwargs}).check_live()


def test_connection_spec_holds_no_secret():
    settings = ConnectionSpec(server="dc1", bind_user="LAB\\svc")
    assert "password" not in repr(settings).lower()
    assert settings.describe() == "ldaps://dc1:636 as LAB\\svc"


def test_the_catalogue_cross_checks_published_schema_guids():
    import uuid

    from richcoex_kit.schema import cross_check, select_attributes

    assert cross_check("proxyAddresses", uuid.UUID("bf967a06-0de6-11d0-a285-00aa003049e2")) is None
    assert "differs from the published" in cross_check("proxyAddresses", uuid.uuid4())
    assert cross_check("msExchArchiveStatus", uuid.uuid4()) is None  # not publicly confirmed: nothing to compare
    assert select_attributes("msExchSafeRecipientHash,kb")[0] == "msExchSafeRecipientsHash"
