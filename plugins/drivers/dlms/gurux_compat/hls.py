"""Defects 18 and 27: HLS pass 3/4 on the server, for the LN (class 15) and SN (class 12)
association.

See the defect table in :mod:`meterhub.plugins.drivers.dlms.gurux_compat`. gurux's
``reply_to_HLS_authentication`` converts the client's answer with ``int()`` (defect 18) and
hashes the bare secret for SHA-256 (defect 27); :func:`hls_reply` checks the client's f(StoC)
and computes the server's f(CtoS) with gurux's own ``GXSecure.secure``.
"""

from __future__ import annotations

from typing import Any

from gurux_dlms.enums import Authentication
from gurux_dlms.GXSecure import GXSecure

__all__ = ["hls_reply", "sha256_secret"]


def sha256_secret(secret: Any, settings: Any, *, client_proves: bool) -> bytes:
    """Defect 27: what HLS SHA-256 (mechanism 6) hashes, as gurux's client builds it.

    The client proves f(StoC) = SHA-256(secret ‖ ST-C ‖ ST-S ‖ StoC ‖ CtoS); the server
    answers f(CtoS) = SHA-256(secret ‖ ST-S ‖ ST-C ‖ CtoS ‖ StoC) (Green Book, mechanism 6).
    ``GXSecure.secure`` hashes the bytes it is given as the secret; gurux's server gives it the
    bare secret.
    """
    client_title = bytes(settings.sourceSystemTitle or b"")
    server_title = bytes(settings.cipher.systemTitle or b"")
    stoc, ctos = bytes(settings.stoCChallenge or b""), bytes(settings.ctoSChallenge or b"")
    if client_proves:
        return bytes(secret) + client_title + server_title + stoc + ctos
    return bytes(secret) + server_title + client_title + ctos + stoc


def hls_reply(settings: Any, secret: Any, parameters: Any) -> bytes | None:
    """The server's f(CtoS) when the client's f(StoC) (``parameters``) is right, else ``None``.

    ``secret`` is the association's HLS secret (mechanisms 2, 3, 4, 6); GMAC uses the keys and
    the system titles instead.
    """
    answer = bytes(parameters or b"")
    mechanism = settings.authentication
    if mechanism == Authentication.HIGH_GMAC:
        if len(answer) < 5:
            return None
        counter = int.from_bytes(answer[1:5], "big")
        proof: Any = settings.sourceSystemTitle
    elif mechanism == Authentication.HIGH_SHA256:
        counter, proof = 0, sha256_secret(secret, settings, client_proves=True)
    else:
        counter, proof = 0, secret
    expected = GXSecure.secure(settings, settings.cipher, counter, settings.stoCChallenge, proof)
    if bytes(expected) != answer:
        return None
    if mechanism == Authentication.HIGH_GMAC:
        proof, counter = settings.cipher.systemTitle, settings.cipher.invocationCounter
    elif mechanism == Authentication.HIGH_SHA256:
        proof = sha256_secret(secret, settings, client_proves=False)
    return bytes(GXSecure.secure(settings, settings.cipher, counter, settings.ctoSChallenge, proof))
