"""The emulated Entra ID's tokens: signed access tokens for the data plane, Kubernetes service-account
tokens for workload identity, and the checks both sides make.

One RSA key per process signs every access token (Entra has one set of signing keys for all tenants, so
a token from `Emulator.entra_token()` is good on any emulator in the process, as a real token is good on
any resource of its tenant); a second key plays the Kubernetes cluster's service-account issuer. Both are
made on first use. Access tokens are shaped as Entra's v1 tokens for Azure resources are: `aud` is the
resource (`https://cognitiveservices.azure.com`), `iss` is `https://sts.windows.net/{tid}/`, `appid`,
`oid`, `tid`, `ver: "1.0"`.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

COGNITIVE_SERVICES = "https://cognitiveservices.azure.com"
AI_AZURE = "https://ai.azure.com"
#: `aud` values the data plane accepts: the dated routes take Cognitive Services tokens; the v1 routes
#: take those and `https://ai.azure.com` tokens (Azure's v1 API docs use the `https://ai.azure.com/.default`
#: scope; earlier versions of the same page used the Cognitive Services one).
DATED_AUDIENCES = frozenset({COGNITIVE_SERVICES})
V1_AUDIENCES = frozenset({COGNITIVE_SERVICES, AI_AZURE})
#: The audience Azure's workload identity webhook puts in the projected service-account token.
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
#: The service-account issuer of a Kubernetes cluster that was not given another one.
KUBERNETES_ISSUER = "https://kubernetes.default.svc.cluster.local"
DEFAULT_TENANT_ID = "9a1c6f0e-3b7d-4e25-8f4a-6d2b1e0c7a53"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class SigningKey:
    """An RSA key with its key id, as a JWKS publishes it."""

    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = self.private.public_key()
        der = public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        self.kid = _b64url(hashlib.sha1(der).digest())
        self.public = public

    def jwk(self) -> dict[str, Any]:
        numbers = self.public.public_numbers()

        def encode(value: int) -> str:
            return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))

        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": encode(numbers.n),
            "e": encode(numbers.e),
        }

    def sign(self, claims: Mapping[str, Any], *, typ: str = "JWT") -> str:
        headers = {"typ": typ, "alg": "RS256", "kid": self.kid, "x5t": self.kid}
        return jwt.encode(dict(claims), self.private, algorithm="RS256", headers=headers)


_keys: dict[str, SigningKey] = {}
_keys_lock = threading.Lock()


def _key(name: str) -> SigningKey:
    with _keys_lock:
        key = _keys.get(name)
        if key is None:
            key = _keys[name] = SigningKey()
        return key


def entra_key() -> SigningKey:
    """The key that signs every access token the emulated Entra ID issues."""
    return _key("entra")


def cluster_key() -> SigningKey:
    """The key of the emulated Kubernetes service-account issuer (workload identity's token file)."""
    return _key("kubernetes")


def object_id(seed: str) -> str:
    """A stable GUID for a principal named `seed` (its object id, the token's `oid` and `sub`)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"instructor-az-emulator:{seed}"))


def resource_of(scope: str) -> str:
    """The resource a `/.default` scope names (`https://cognitiveservices.azure.com/.default` -> the host)."""
    return scope[: -len("/.default")] if scope.endswith("/.default") else scope


def access_token(
    *,
    audience: str,
    tenant_id: str,
    client_id: str,
    now: float,
    lifetime: int,
    subject: str | None = None,
    client_auth: str = "1",
    extra: Mapping[str, Any] | None = None,
) -> str:
    """A signed v1 access token. `client_auth` is `appidacr`: "1" for a secret, "2" for a certificate or
    an assertion (managed identities are "2" too)."""
    issued = int(now)
    oid = subject or object_id(client_id)
    claims: dict[str, Any] = {
        "aud": audience,
        "iss": f"https://sts.windows.net/{tenant_id}/",
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime,
        "aio": _b64url(uuid.uuid4().bytes),
        "appid": client_id,
        "appidacr": client_auth,
        "idp": f"https://sts.windows.net/{tenant_id}/",
        "idtyp": "app",
        "oid": oid,
        "rh": "0." + _b64url(uuid.uuid4().bytes),
        "sub": oid,
        "tid": tenant_id,
        "uti": _b64url(uuid.uuid4().bytes)[:22],
        "ver": "1.0",
    }
    if extra:
        claims.update(extra)
    return entra_key().sign(claims)


def service_account_token(
    *,
    namespace: str,
    service_account: str,
    issuer: str,
    audience: str,
    now: float,
    lifetime: int,
) -> str:
    """A projected Kubernetes service-account token, as the workload identity webhook mounts it."""
    issued = int(now)
    claims = {
        "aud": [audience],
        "exp": issued + lifetime,
        "iat": issued,
        "iss": issuer,
        "kubernetes.io": {
            "namespace": namespace,
            "pod": {"name": f"{service_account}-pod", "uid": object_id(f"pod:{namespace}:{service_account}")},
            "serviceaccount": {
                "name": service_account,
                "uid": object_id(f"sa:{namespace}:{service_account}"),
            },
        },
        "nbf": issued,
        "sub": f"system:serviceaccount:{namespace}:{service_account}",
    }
    return cluster_key().sign(claims)


def unverified_header(token: str) -> dict[str, Any] | None:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return None
    return header if isinstance(header, dict) else None


def unverified_claims(token: str) -> dict[str, Any] | None:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims, dict) else None


@dataclass(frozen=True)
class BearerCheck:
    """Why the data plane turned a bearer token down (never shown to the client: Azure's 401 is generic)."""

    reason: str


def issued_by_entra(token: str) -> bool:
    """Whether `token` claims to be signed by the emulated Entra ID (its key id), signature unchecked."""
    header = unverified_header(token)
    return header is not None and header.get("kid") == entra_key().kid


def check_access_token(
    token: str,
    *,
    audiences: Iterable[str],
    tenant_id: str | None,
    now: Callable[[], float],
    leeway: float = 0.0,
) -> BearerCheck | None:
    """None when `token` is a valid access token of the emulated Entra ID for one of `audiences` (and for
    `tenant_id` when given); else why not."""
    try:
        claims = jwt.decode(
            token,
            entra_key().public,
            algorithms=["RS256"],
            options={"verify_exp": False, "verify_nbf": False, "verify_aud": False, "verify_iat": False},
        )
    except jwt.InvalidSignatureError:
        return BearerCheck("signature")
    except jwt.PyJWTError:
        return BearerCheck("malformed")
    allowed = {a.rstrip("/") for a in audiences}
    audience = claims.get("aud")
    if not isinstance(audience, str) or audience.rstrip("/") not in allowed:
        return BearerCheck("audience")
    moment = now()
    expires = claims.get("exp")
    if not isinstance(expires, (int, float)) or moment >= expires + leeway:
        return BearerCheck("expired")
    not_before = claims.get("nbf")
    if isinstance(not_before, (int, float)) and moment + leeway < not_before:
        return BearerCheck("not yet valid")
    if tenant_id is not None and claims.get("tid") != tenant_id:
        return BearerCheck("tenant")
    return None


def verify_signed(token: str, public_key: Any, algorithms: Iterable[str]) -> dict[str, Any] | None:
    """The claims of `token` when `public_key` signed it (times and audience unchecked), else None."""
    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=list(algorithms),
            options={"verify_exp": False, "verify_nbf": False, "verify_aud": False, "verify_iat": False},
        )
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims, dict) else None
