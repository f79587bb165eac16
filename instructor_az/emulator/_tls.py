"""A test certificate authority for the emulator: TLS on loopback and client certificates.

azure-identity only talks to an authority host over https, so the emulator's Entra endpoints need a
server certificate that the client trusts. `trustme` makes a throwaway CA and the certificates it signs;
the files live in a private temporary folder that `TestCA.close()` (and `Emulator.close()`) removes.
Nothing here is for production: the keys are written unencrypted, to be read by the tests' own process.
"""

from __future__ import annotations

import contextlib
import shutil
import ssl
import tempfile
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

#: What a served emulator's certificate names (plus the host it is bound to).
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def _trustme() -> Any:
    try:
        import trustme
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "TLS on loopback and client certificates need 'trustme': pip install \"instructor-az[emulator]\""
        ) from exc
    return trustme


@dataclass(frozen=True)
class ClientCertificate:
    """A certificate and its RSA key, as `CertificateCredential(certificate_path=...)` reads them.

    Register it on an app with `emulator.identity.add_app(certificate=cert)`: the emulator then accepts
    client assertions signed with its key. `path` holds the private key and the certificate (PEM).
    """

    path: Path
    certificate_pem: bytes = field(repr=False)
    sha1_thumbprint: str
    sha256_thumbprint: str

    @classmethod
    def from_pem(cls, path: Path, pem: bytes) -> ClientCertificate:
        cert = x509.load_pem_x509_certificate(pem)
        public = cert.public_bytes(encoding=_pem_encoding())
        return cls(
            path=path,
            certificate_pem=public,
            sha1_thumbprint=cert.fingerprint(hashes.SHA1()).hex(),
            sha256_thumbprint=cert.fingerprint(hashes.SHA256()).hex(),
        )

    def public_key(self) -> Any:
        return x509.load_pem_x509_certificate(self.certificate_pem).public_key()


def _pem_encoding() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.PEM


class TestCA:
    """A CA made for one emulator; its files are in `folder` until `close()`."""

    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        trustme = _trustme()
        self._trustme = trustme
        self._ca = trustme.CA(organization_name="instructor-az emulator test CA")
        self.folder = Path(tempfile.mkdtemp(prefix="instructor-az-emulator-tls-"))
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.folder), True)
        self.ca_path = self.folder / "ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_path))
        self._servers: dict[tuple[str, ...], Path] = {}
        self._lock = threading.Lock()
        self._client_count = 0

    def __repr__(self) -> str:
        return f"TestCA(ca_path={str(self.ca_path)!r})"

    def server_pem(self, host: str) -> Path:
        """A PEM file with a server key and its certificate chain, for `host` and the loopback names."""
        names = tuple(dict.fromkeys((host, *LOOPBACK_NAMES)))
        with self._lock:
            path = self._servers.get(names)
            if path is None:
                leaf = self._ca.issue_cert(*names, common_name="instructor-az emulator")
                path = self.folder / f"server-{len(self._servers)}.pem"
                leaf.private_key_and_cert_chain_pem.write_to_path(str(path))
                self._servers[names] = path
            return path

    def ssl_context(self) -> ssl.SSLContext:
        """A client-side context that trusts this CA (for `httpx2.Client(verify=...)` and the like)."""
        context = ssl.create_default_context()
        self._ca.configure_trust(context)
        return context

    def client_certificate(
        self, path: str | Path | None = None, *, name: str = "emulator-app"
    ) -> ClientCertificate:
        """A new RSA client certificate (azure-identity signs assertions with RS256 / PS256, RSA only)."""
        with self._lock:
            self._client_count += 1
            number = self._client_count
        leaf = self._ca.issue_cert(
            f"{name}.emulator.invalid", common_name=name, key_type=self._trustme.KeyType.RSA
        )
        target = Path(path) if path is not None else self.folder / f"client-{number}.pem"
        pem: bytes = leaf.private_key_pem.bytes() + leaf.cert_chain_pems[0].bytes()
        target.write_bytes(pem)
        with contextlib.suppress(OSError):
            target.chmod(0o600)
        return ClientCertificate.from_pem(target, leaf.cert_chain_pems[0].bytes())

    def close(self) -> None:
        self._finalizer()
