"""Signing in to Azure OpenAI with Entra ID, the ways production does it, each with `from_azure(auth=...)`:
a service principal with a client secret, a managed identity (App Service / Container Apps form), and the
v1 API with the same identity. `Mode.AUTO` picks strict json_schema on the latest GA api-version.

The emulator plays all of Azure here: the Azure OpenAI resource, Entra ID's token endpoint and the
managed-identity endpoint, served over TLS on 127.0.0.1 with a test CA. On Azure you pass none of the
test plumbing (`credential_options`, `http_client`): the variables the platform sets are enough.

Run: python cookbook/azure_sign_in.py
"""

import os

import httpx2
from pydantic import BaseModel

import instructor_az
from instructor_az.emulator import Emulator


class User(BaseModel):
    name: str
    age: int


MESSAGES = [{"role": "user", "content": "John is 30 years old"}]


def main() -> None:
    emulator = Emulator(backend="schema")
    with emulator.serve(tls=True) as endpoint:
        identity = emulator.identity
        trust = {"connection_verify": identity.ca_path}  # test plumbing: trust the emulator's CA

        def http() -> httpx2.Client:
            return httpx2.Client(verify=identity.ca.ssl_context())

        # 1. A service principal: what AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET say.
        app = identity.add_app(secret="a-client-secret-for-the-demo")
        # `with`: closing the client closes the credential from_azure built for it (and its HTTP session).
        with instructor_az.from_azure(
            azure_endpoint=endpoint,
            auth="service_principal",
            tenant_id=app.tenant_id,
            client_id=app.client_id,
            client_secret="a-client-secret-for-the-demo",
            authority_host=identity.authority_host,  # AZURE_AUTHORITY_HOST: Entra ID, here the emulator
            credential_options={**trust, "disable_instance_discovery": True},  # MSAL: an unknown host
            http_client=http(),
        ) as client:
            user = client.create(model="gpt-4o", response_model=User, messages=MESSAGES)
            print(f"service principal ({client.mode.value} mode): {user}")

        # 2. A managed identity: App Service and Container Apps set IDENTITY_ENDPOINT and IDENTITY_HEADER.
        mi = identity.add_system_assigned_identity()
        os.environ.update(identity.managed_identity_env())
        client = instructor_az.from_azure(
            azure_endpoint=endpoint, auth="managed_identity", credential_options=trust, http_client=http()
        )
        print(f"managed identity: {client.create(model='gpt-4o', response_model=User, messages=MESSAGES)}")

        # 3. The same identity on the v1 API: OpenAI(base_url=".../openai/v1/"), no api-version.
        client = instructor_az.from_azure(
            azure_endpoint=endpoint,
            api_version="v1",
            auth="managed_identity",
            credential_options=trust,
            http_client=http(),
        )
        print(f"v1 API: {client.create(model='gpt-4o', response_model=User, messages=MESSAGES)}")
        issued = identity.issued
        print(
            f"tokens Entra issued: service principal {issued[app.client_id]}, managed {issued[mi.client_id]}"
        )
        print(f"requests: {[(r.path, r.auth, r.status) for r in emulator.requests]}")


if __name__ == "__main__":
    main()
