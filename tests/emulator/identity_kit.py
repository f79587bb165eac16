"""Shared setup for the identity tests: an emulator served over TLS, a clean Azure environment, clients.

Every test here drives the real azure-identity credentials (and the real openai SDK) against the emulator
on 127.0.0.1. `clean_azure_env` removes any Azure variable the machine may have, so no credential can
reach a real cloud or the instance metadata service; the sync MSAL-based credentials always get
`disable_instance_discovery=True` (MSAL would otherwise ask login.microsoftonline.com about the host).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from openai import AsyncAzureOpenAI, AzureOpenAI

from instructor_az.emulator import LATEST_GA, Emulator

COGNITIVE_SCOPE = "https://cognitiveservices.azure.com/.default"
USER = [{"role": "user", "content": "hello"}]
AZURE_VARIABLES = (
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
    "AZURE_USERNAME",
    "AZURE_PASSWORD",
    "AZURE_REGIONAL_AUTHORITY_NAME",
    "AZURE_TOKEN_CREDENTIALS",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
)
#: DefaultAzureCredential without the developer tools (a failure must not reach someone's `az login`).
NO_DEV_TOOLS = {
    "exclude_shared_token_cache_credential": True,
    "exclude_visual_studio_code_credential": True,
    "exclude_cli_credential": True,
    "exclude_developer_cli_credential": True,
    "exclude_powershell_credential": True,
    "exclude_broker_credential": True,
}
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


def clean_azure_env(monkeypatch: pytest.MonkeyPatch, *, openai: bool = False) -> None:
    """Remove every variable azure-identity reads (call it from an autouse fixture); `openai=True`:
    also those `from_azure` reads for its key, token, api-version and deployment."""
    for name in AZURE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    if openai:
        for name in (
            "AZURE_OPENAI_API_KEY",
            "AZURE_OPENAI_AD_TOKEN",
            "OPENAI_API_VERSION",
            "AZURE_OPENAI_DEPLOYMENT",
        ):
            monkeypatch.delenv(name, raising=False)


@dataclass
class Served:
    emulator: Emulator
    endpoint: str

    @property
    def identity(self) -> Any:
        return self.emulator.identity

    def client(self, **kwargs: Any) -> AzureOpenAI:
        """An AzureOpenAI on the served https endpoint, trusting the emulator's CA."""
        kwargs.setdefault("api_version", LATEST_GA)
        kwargs.setdefault("max_retries", 0)
        http = httpx2.Client(verify=self.identity.ca.ssl_context())
        return AzureOpenAI(azure_endpoint=self.endpoint, http_client=http, **kwargs)

    def async_client(self, **kwargs: Any) -> AsyncAzureOpenAI:
        kwargs.setdefault("api_version", LATEST_GA)
        kwargs.setdefault("max_retries", 0)
        http = httpx2.AsyncClient(verify=self.identity.ca.ssl_context())
        return AsyncAzureOpenAI(azure_endpoint=self.endpoint, http_client=http, **kwargs)

    def msal_kwargs(self) -> dict[str, Any]:
        """What every sync credential built on MSAL needs here: the authority, the CA, no discovery."""
        return {
            "authority": self.identity.authority_host,
            "connection_verify": self.identity.ca_path,
            "disable_instance_discovery": True,
        }

    def aad_kwargs(self) -> dict[str, Any]:
        """What the credentials azure-identity implements itself need (async ones, workload identity)."""
        return {"authority": self.identity.authority_host, "connection_verify": self.identity.ca_path}


def serve_emulator(**kwargs: Any) -> Iterator[Served]:
    """A scripted emulator served over TLS on 127.0.0.1 (`yield from` it in a fixture)."""
    emulator = Emulator(backend="scripted", **kwargs)
    try:
        with emulator.serve(tls=True) as endpoint:
            yield Served(emulator, endpoint)
    finally:
        emulator.close()


def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Capture every logger that could see a credential, at DEBUG."""
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def assert_absent(secrets: tuple[str, ...], *texts: str) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"a secret leaked: {text[:300]!r}"


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every record as the handler formats it (tracebacks included) and its raw arguments."""
    formatter = logging.Formatter("%(name)s %(message)s")
    return "\n".join(formatter.format(r) + repr(r.args) for r in caplog.records)
