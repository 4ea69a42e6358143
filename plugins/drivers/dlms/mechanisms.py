"""Authentication mechanisms (IEC 62056-5-3 / Green Book): the names the settings use.

An association is authenticated with one mechanism, named in the AARQ's mechanism-name
(``2.16.756.5.8.2.<id>``). The driver and the simulator name them alike:

=================  ==  ===============================================================
setting            id  what the client proves
=================  ==  ===============================================================
``none``           0   nothing (lowest level security)
``low``            1   LLS: the ``password`` in the AARQ, in clear
``manufacturer``   2   HLS, manufacturer specific: gurux computes AES-128 (ECB) of the
                       challenge with the secret (``password``, up to 16 bytes, zero
                       padded) as the key
``md5``            3   HLS MD5: MD5(StoC ‖ secret)
``sha1``           4   HLS SHA-1: SHA-1(StoC ‖ secret)
``gmac``, ``high`` 5   HLS GMAC: SC ‖ IC ‖ GMAC(SC ‖ AK ‖ StoC) with the client's system
                       title and invocation counter (keys, security suite 0)
``sha256``         6   HLS SHA-256: SHA-256(secret ‖ ST-C ‖ ST-S ‖ StoC ‖ CtoS)
=================  ==  ===============================================================

``high`` is the name the driver gave GMAC before the other mechanisms existed; settings kept
with it go on working. Mechanism 7 (ECDSA, security suites 1 and 2) is not offered: see
``docs/drivers/dlms.md``.
"""

from __future__ import annotations

from gurux_dlms.enums import Authentication

__all__ = [
    "HLS",
    "MECHANISMS",
    "PASSWORD_MECHANISMS",
    "canonical_mechanism",
    "mechanism_id",
]

#: Setting value → gurux's ``Authentication``.
MECHANISMS: dict[str, Authentication] = {
    "none": Authentication.NONE,
    "low": Authentication.LOW,
    "manufacturer": Authentication.HIGH,
    "md5": Authentication.HIGH_MD5,
    "sha1": Authentication.HIGH_SHA1,
    "gmac": Authentication.HIGH_GMAC,
    "high": Authentication.HIGH_GMAC,
    "sha256": Authentication.HIGH_SHA256,
}
#: The HLS mechanisms (pass 3/4 after the AARE), by their canonical names.
HLS = frozenset({"manufacturer", "md5", "sha1", "gmac", "sha256"})
#: The mechanisms whose secret is the ``password`` setting (LLS and the HLS secrets).
PASSWORD_MECHANISMS = frozenset({"low", "manufacturer", "md5", "sha1", "sha256"})


def canonical_mechanism(name: str) -> str:
    """The canonical name of a mechanism setting (``high`` is ``gmac``)."""
    return "gmac" if name == "high" else name


def mechanism_id(name: str) -> int:
    """The mechanism id (0–6) of a setting value."""
    return int(MECHANISMS[name])
