"""Self-signed certificates for certificate sign-in (closeout's and the sandbox's side of it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def make_cert(
    common_name: str = "closeout-app", *, days: int = 30
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A 2048-bit RSA key and its certificate, valid from 60 days ago until ``days`` from now
    (a negative ``days``: expired)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=60))
        .not_valid_after(now + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return key, cert


def write_pem(path: Path, key: rsa.RSAPrivateKey, cert: x509.Certificate) -> Path:
    """``key`` and ``cert`` in one PEM file (what ``--certificate`` reads), mode 0600."""
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    path.write_bytes(key_pem + cert.public_bytes(serialization.Encoding.PEM))
    path.chmod(0o600)
    return path
