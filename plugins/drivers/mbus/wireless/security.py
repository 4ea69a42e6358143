"""OMS security: AES-128 decryption of modes 5 and 7, with key schedules cached per meter.

Mode 5 (EN 13757-7, OMS security profile A): AES-128-CBC with the meter's persistent key; the
IV is the manufacturer, the address (identification, version, device type) and eight times
the access number. Mode 7 (profile B): an ephemeral key per message,
``K = CMAC(master key, DC ‖ message counter ‖ identification ‖ 07h × 7)`` with ``DC`` = 00h for
encryption and 01h for the MAC (messages from the meter), AES-128-CBC with IV 0, and the MAC of
the Authentication and Fragmentation Layer: ``CMAC(Kmac, MCL ‖ MCR ‖ TPL…)`` truncated.

Speed: a :class:`MeterKey` keeps one ECB decryptor and one ECB encryptor of the meter key (the
expensive key expansion happens once per meter, not per telegram). CBC decryption is then one
ECB call plus one XOR with the shifted ciphertext, and the two key derivations of mode 7 are one
ECB call (a one-block CMAC is ``E(M ⊕ K1)`` with the cached subkey K1). Only the ephemeral keys
of mode 7 need a fresh key schedule per telegram. ``cryptography`` (OpenSSL) does the AES.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

__all__ = ["MeterKey", "cbc_decrypt", "cmac_tag"]

_ZERO = bytes(16)


def _subkey(value: int) -> int:
    shifted = (value << 1) & ((1 << 128) - 1)
    return shifted ^ 0x87 if value >> 127 else shifted


def cmac_tag(key: bytes, data: bytes) -> bytes:
    """AES-CMAC (NIST SP 800-38B) of ``data`` under ``key``."""
    mac = cmac.CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()


def cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    """AES-128-CBC decryption without padding (``data`` is whole blocks)."""
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return decryptor.update(data) + decryptor.finalize()


class MeterKey:
    """One meter's AES key with its cached key schedules (see the module docstring)."""

    __slots__ = ("_decrypt", "_encrypt", "_k1", "key")

    def __init__(self, key: bytes) -> None:
        if len(key) != 16:
            raise ValueError("an OMS key has 16 bytes")
        self.key = key
        self._decrypt: CipherContext = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
        self._encrypt: CipherContext = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
        self._k1 = _subkey(int.from_bytes(self._encrypt.update(_ZERO), "big"))

    def decrypt_cbc(self, iv: bytes, data: bytes) -> bytes:
        """CBC-decrypt ``data`` (whole blocks) with IV ``iv``: one ECB call and one XOR."""
        clear = self._decrypt.update(data)
        chain = iv + data[:-16]
        size = len(data)
        return (int.from_bytes(clear, "big") ^ int.from_bytes(chain, "big")).to_bytes(size, "big")

    def derive(self, counter: bytes, identification: bytes) -> tuple[bytes, bytes]:
        """Mode 7 (KDF-A): the encryption and MAC keys for one message, meter to partner."""
        tail = int.from_bytes(counter + identification + b"\x07" * 7, "big")
        k1 = self._k1
        blocks = (tail ^ k1).to_bytes(16, "big") + ((1 << 120 | tail) ^ k1).to_bytes(16, "big")
        out = self._encrypt.update(blocks)
        return out[:16], out[16:]
