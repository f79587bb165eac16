"""No secret of the identity side ends up where it can be read: a client secret, a certificate's private
key, a federated token, the managed-identity header, or an access token the emulated Entra ID issued.

Each credential kind is driven by the real azure-identity credential (sync and async) against the
emulator served over TLS, once successfully and once refused; then the formatted logs (every logger at
DEBUG, tracebacks included), the raised error (str, repr, traceback), the emulator's records (token
requests and data-plane requests, as reprs and as the control API's JSON) and the reprs of the
emulator's objects are searched for every one of those secrets.
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import (
    CertificateCredential,
    ClientSecretCredential,
    CredentialUnavailableError,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
    get_bearer_token_provider,
)
from azure.identity import aio as identity_aio

from instructor_az.emulator import Emulator

SCOPE = "https://cognitiveservices.azure.com/.default"
SECRET = "id-SECRET-5f4e3d2c1b0a99887766"
WRONG_SECRET = "id-WRONG-0011223344556677"
LOGGERS = (
    "",
    "azure",
    "azure.identity",
    "azure.core",
    "msal",
    "urllib3",
    "httpx2",
    "openai",
    "instructor_az",
)
VARIABLES = (
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
    "AZURE_TOKEN_CREDENTIALS",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
)
USER = [{"role": "user", "content": "hello"}]


@dataclass
class Case:
    emulator: Emulator
    endpoint: str
    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    secrets: list[str] = field(default_factory=list)

    @property
    def identity(self) -> Any:
        return self.emulator.identity

    def kwargs(self, flavour: str, *, msal: bool) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "authority": self.identity.authority_host,
            "connection_verify": self.identity.ca_path,
        }
        if msal and flavour == "sync":
            kwargs["disable_instance_discovery"] = True
        return kwargs


@pytest.fixture
def case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Case]:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    emulator = Emulator(backend="scripted")
    try:
        with emulator.serve(tls=True) as endpoint:
            yield Case(emulator, endpoint, tmp_path, monkeypatch)
    finally:
        emulator.close()


# --- credentials, each set up to succeed or to be refused -------------------------------------------


def client_secret(case: Case, flavour: str, refused: bool) -> Any:
    app = case.identity.add_app(secret=SECRET)
    case.secrets += [SECRET, WRONG_SECRET]
    given = WRONG_SECRET if refused else SECRET
    kind = ClientSecretCredential if flavour == "sync" else identity_aio.ClientSecretCredential
    return kind(app.tenant_id, app.client_id, given, **case.kwargs(flavour, msal=True))


def certificate(case: Case, flavour: str, refused: bool) -> Any:
    cert = case.identity.new_certificate()
    app = case.identity.add_app(certificate=cert if not refused else case.identity.new_certificate())
    pem = cert.path.read_text()
    key = pem.split("-----BEGIN CERTIFICATE-----")[0]
    case.secrets += [line for line in key.splitlines() if line and not line.startswith("-----")][:3]
    kind = CertificateCredential if flavour == "sync" else identity_aio.CertificateCredential
    return kind(
        app.tenant_id, app.client_id, certificate_path=str(cert.path), **case.kwargs(flavour, msal=True)
    )


def workload(case: Case, flavour: str, refused: bool) -> Any:
    app = case.identity.add_app(federated_subject="system:serviceaccount:default:workload-identity-sa")
    token_file = case.identity.write_federated_token(
        case.tmp / "token", service_account="someone-else" if refused else "workload-identity-sa"
    )
    federated = token_file.read_text()
    case.secrets += [federated, federated.split(".")[1], federated.split(".")[2]]
    kind = WorkloadIdentityCredential if flavour == "sync" else identity_aio.WorkloadIdentityCredential
    return kind(
        tenant_id=app.tenant_id,
        client_id=app.client_id,
        token_file_path=str(token_file),
        **case.kwargs(flavour, msal=False),
    )


def managed(case: Case, flavour: str, refused: bool) -> Any:
    case.identity.add_system_assigned_identity()
    env = case.identity.managed_identity_env()
    header = env["IDENTITY_HEADER"]
    case.secrets.append(header)
    if refused:
        env["IDENTITY_HEADER"] = "id-WRONG-HEADER-998877"
        case.secrets.append(env["IDENTITY_HEADER"])
    for name, value in env.items():
        case.monkeypatch.setenv(name, value)
    kind = ManagedIdentityCredential if flavour == "sync" else identity_aio.ManagedIdentityCredential
    return kind(connection_verify=case.identity.ca_path)


CREDENTIALS: dict[str, Callable[[Case, str, bool], Any]] = {
    "client secret": client_secret,
    "certificate": certificate,
    "workload identity": workload,
    "managed identity": managed,
}


def get_token(credential: Any, flavour: str) -> Any:
    if flavour == "sync":
        with credential:
            return credential.get_token(SCOPE)

    async def run() -> Any:
        async with credential:
            return await credential.get_token(SCOPE)

    return asyncio.run(run())


# --- where secrets could show -----------------------------------------------------------------------


def assert_clean(case: Case, text: str, where: str) -> None:
    for secret in case.secrets:
        assert secret not in text, f"a secret leaked into {where}: {text[:300]!r}"


def check_everything(case: Case, caplog: pytest.LogCaptureFixture, error: BaseException | None) -> None:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in caplog.records:
        assert_clean(case, formatter.format(record), f"a log record of {record.name}")
        assert_clean(case, repr(record.args), f"a log record's arguments ({record.name})")
    if error is not None:
        assert_clean(case, str(error), "str(error)")
        assert_clean(case, repr(error), "repr(error)")
        assert_clean(case, "".join(traceback.format_exception(error)), "the formatted traceback")
    identity = case.identity
    for recorded in [*identity.requests, *case.emulator.requests]:
        assert_clean(case, repr(recorded), "a recorded request")
        assert_clean(case, json.dumps(recorded.to_json(), default=repr), "a recorded request as JSON")
    texts = [repr(case.emulator), repr(identity), repr(identity.ca)]
    texts += [repr(app) for app in identity.apps.values()]
    texts += [repr(cert) for app in identity.apps.values() for cert in app.certificates]
    texts += [repr(m) for m in identity.managed_identities.values()]
    for text in texts:
        assert_clean(case, text, "an emulator object's repr")


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("kind", list(CREDENTIALS))
def test_a_token_obtained_and_used_leaves_no_secret(
    case: Case, debug_logs: pytest.LogCaptureFixture, kind: str, flavour: str
) -> None:
    credential = CREDENTIALS[kind](case, flavour, False)
    token = get_token(credential, flavour).token
    case.secrets += [token, token.split(".")[1], token.split(".")[2]]
    case.emulator.scripted.push("used")
    http_client = httpx2.Client(verify=case.identity.ca.ssl_context())
    with openai.AzureOpenAI(
        azure_endpoint=case.endpoint, api_version="2024-10-21", azure_ad_token=token, http_client=http_client
    ) as client:
        assert (
            client.chat.completions.create(model="gpt-4o", messages=USER).choices[0].message.content == "used"
        )
    assert debug_logs.records, "DEBUG logging was on"
    check_everything(case, debug_logs, None)


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("kind", list(CREDENTIALS))
def test_a_refused_credential_leaves_no_secret(
    case: Case, debug_logs: pytest.LogCaptureFixture, kind: str, flavour: str
) -> None:
    credential = CREDENTIALS[kind](case, flavour, True)
    with pytest.raises((ClientAuthenticationError, CredentialUnavailableError)) as caught:
        get_token(credential, flavour)
    assert case.identity.requests[-1].status >= 400
    check_everything(case, debug_logs, caught.value)


def test_a_refused_bearer_token_leaves_no_trace(case: Case, debug_logs: pytest.LogCaptureFixture) -> None:
    """A token for another resource, refused by the data plane: the 401, the logs and the records hold
    neither the token nor the secret that got it."""
    app = case.identity.add_app(secret=SECRET)
    credential = ClientSecretCredential(
        app.tenant_id, app.client_id, SECRET, **case.kwargs("sync", msal=True)
    )
    case.secrets.append(SECRET)
    wrong = credential.get_token("https://management.azure.com/.default").token
    case.secrets += [wrong, wrong.split(".")[1]]
    provider = get_bearer_token_provider(credential, "https://management.azure.com/.default")
    http_client = httpx2.Client(verify=case.identity.ca.ssl_context())
    with (
        credential,
        openai.AzureOpenAI(
            azure_endpoint=case.endpoint,
            api_version="2024-10-21",
            azure_ad_token_provider=provider,
            http_client=http_client,
            max_retries=0,
        ) as client,
        pytest.raises(openai.AuthenticationError) as caught,
    ):
        client.chat.completions.create(model="gpt-4o", messages=USER)
    assert case.emulator.last_request.status == 401
    assert case.emulator.last_request.headers["authorization"] == "<redacted>"
    check_everything(case, debug_logs, caught.value)
    assert_clean(case, repr(caught.value.body), "the 401's body")
