"""The local certificate authority and server certificate behind `velocipy run --https`.

One CA per user, made on first use and kept (so a person trusts it once), in
``$VELOCIPY_TLS_DIR``, else ``$XDG_DATA_HOME/velocipy/tls``, else
``~/.local/share/velocipy/tls``; never inside a project, so it is never committed. Each run
issues a fresh server certificate from it for ``localhost``, ``127.0.0.1``, ``::1`` and the
host being served. trustme does the X.509 work (a small, well-kept library made for exactly
this: a throwaway CA and certificates signed by it, on top of ``cryptography``).
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

CA_CERT = "velocipy-dev-ca.pem"
CA_KEY = "velocipy-dev-ca-key.pem"
SERVER_CERT = "server.pem"
SERVER_KEY = "server-key.pem"


def tls_dir(environ: os._Environ[str] | dict[str, str] = os.environ) -> Path:
    """Where the development CA and certificates live (created with mode 0700)."""
    if environ.get("VELOCIPY_TLS_DIR"):
        return Path(environ["VELOCIPY_TLS_DIR"])
    data = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "velocipy" / "tls"


def dev_ca_file(environ: os._Environ[str] | dict[str, str] = os.environ) -> Path | None:
    """The development CA certificate, when one was made (ws-probe trusts it for wss://)."""
    path = tls_dir(environ) / CA_CERT
    return path if path.is_file() else None


@dataclass(frozen=True)
class DevCertificate:
    ca: Path  # the certificate to trust
    cert: Path  # the server's certificate chain
    key: Path  # the server's private key
    ca_created: bool  # made by this run: say how to trust it


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def dev_certificate(host: str, folder: Path | None = None) -> DevCertificate:
    """The CA (made once) and a server certificate for ``host`` and the loopback names."""
    import trustme  # PERF: only `run --https` loads the X.509 machinery

    folder = folder or tls_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca_cert, ca_key = folder / CA_CERT, folder / CA_KEY
    created = not (ca_cert.is_file() and ca_key.is_file())
    if created:
        ca = trustme.CA(organization_name="VelociPy development CA")
        _write_private(ca_key, ca.private_key_pem.bytes())
        ca_cert.write_bytes(ca.cert_pem.bytes())
    else:
        ca = trustme.CA.from_pem(ca_cert.read_bytes(), ca_key.read_bytes())
    names = ["localhost", "127.0.0.1", "::1"]
    if host not in names and not _is_wildcard(host):
        names.append(host)
    leaf = ca.issue_cert(*names)
    cert, key = folder / SERVER_CERT, folder / SERVER_KEY
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    _write_private(key, leaf.private_key_pem.bytes())
    return DevCertificate(ca_cert, cert, key, created)


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def server_context(certificate: DevCertificate) -> ssl.SSLContext:
    """A TLS server context for the dev proxy, which terminates TLS in front of the worker."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate.cert, certificate.key)
    return context
