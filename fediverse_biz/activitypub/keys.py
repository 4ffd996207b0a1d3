"""RSA key pairs for actors, and a cache of parsed public keys.

Parsing a PEM costs far more than an RSA verify (~16 µs with `cryptography`), so parsed
public keys are memoised by their PEM text.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_BITS = 2048  # what Mastodon generates; peers reject nothing smaller than this in practice


def generate_key_pair() -> tuple[str, str]:
    """Return (private_pem, public_pem) for a fresh RSA-2048 key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return private_pem, public_pem


@lru_cache(maxsize=4096)
def load_public_key(pem: str) -> rsa.RSAPublicKey:
    """Parse a PEM public key (SPKI or PKCS#1); raises ValueError if it is not RSA."""
    data = pem.strip().encode()
    # load_pem_public_key reads both "PUBLIC KEY" (SPKI) and "RSA PUBLIC KEY" (PKCS#1, some old peers).
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("only RSA public keys are supported")
    return key


@lru_cache(maxsize=1024)
def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    # Our own keys, generated here and read from our database: OpenSSL's consistency check of the key
    # (27 ms, blocking the event loop on the first delivery of each actor in each process) guards against
    # malformed keys from elsewhere, which these are not (cryptography documents when skipping is safe).
    key = serialization.load_pem_private_key(pem.encode(), password=None, unsafe_skip_rsa_key_validation=True)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("only RSA private keys are supported")
    return key
