"""Authentication mechanisms 2–6 and security suites 0–2 against gurux's server classes.

Each simulated meter is set up with one mechanism (simulator option ``authentication``); its
HLS secret and keys come from ``meter_secrets`` of its serial. Values read through an
association are checked against the meter's model, so a session that only *looks* associated
cannot pass.
"""

from __future__ import annotations

import re
import time

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from gurux_dlms.AesGcmParameter import AesGcmParameter
from gurux_dlms.CountType import CountType
from gurux_dlms.enums import Authentication, Security
from gurux_dlms.GXDLMSChippering import GXDLMSChippering
from gurux_dlms.GXDLMSChipperingStream import GXDLMSChipperingStream
from gurux_dlms.GXDLMSSettings import GXDLMSSettings
from gurux_dlms.objects import GXDLMSAssociationLogicalName
from gurux_dlms.ValueEventArgs import ValueEventArgs

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import AuthenticationFailed, Quality
from meterhub.extensions.driverkit import SimulatedMeter
from meterhub.extensions.simulator import Faults
from meterhub.plugins.drivers.dlms.driver import DlmsConnection, DlmsDriver
from meterhub.plugins.drivers.dlms.masking import payload_ranges
from meterhub.plugins.drivers.dlms.settings import DlmsSettings
from meterhub.plugins.drivers.dlms.simulator import DlmsFleet, meter_secrets

pytestmark = pytest.mark.timeout(30)

MECHANISMS = ("manufacturer", "md5", "sha1", "gmac", "sha256")
#: Mechanism id on the wire (the last arc of the AARQ's mechanism-name).
MECHANISM_IDS = {"manufacturer": 2, "md5": 3, "sha1": 4, "gmac": 5, "sha256": 6}


def connect(fleet: DlmsFleet, **extra: str) -> DlmsConnection:
    endpoint = fleet.endpoints[0]
    return DlmsDriver().connect(endpoint.address, {**endpoint.settings, **extra})


def read_checked(fleet: DlmsFleet, connection: DlmsConnection) -> None:
    """The clock and an energy register, the register exactly as the model has it."""
    meter = SimulatedMeter(fleet.endpoints[0].serial)
    before = int(time.time())
    clock = connection.read_clock()
    energy = connection.read_registers(["1-0:1.8.0"])[0]
    after = int(time.time())
    assert clock.quality is Quality.VALID
    assert (energy.quality, energy.unit, energy.scaler) == (Quality.VALID, "Wh", 0)
    assert energy.value in {meter.active_energy(at) for at in range(before, after + 1)}


_GLO_APDUS = (0xC8, 0xCC, 0xCB, 0xCF)  # glo-get/-action request and response
#: general-glo-ciphering (DB <title length> <title> <length> SC ...) is recognised too.
_INITIATE = re.compile(rb"\xbe.\x04.[\x21\x28].(.)", re.DOTALL)  # glo-initiate in an AARQ/AARE


def security_controls(connection: DlmsConnection, framing: str) -> list[int]:
    """The security control byte of every ciphered APDU in the session's frames."""
    found = []
    for entry in connection.trace.entries:
        data = bytes(entry.data)
        if entry.direction == "note" or data[:2] != b"\x00\x01" and data[:1] != b"\x7e":
            continue
        span = payload_ranges(data, framing)
        if span is None:
            continue
        apdu = data[span[0] : span[1]]
        if framing == "hdlc":
            if apdu[:2] not in (b"\xe6\xe6", b"\xe6\xe7"):
                continue  # a continuation frame
            apdu = apdu[3:]
        if apdu and apdu[0] in _GLO_APDUS and apdu[1] < 0x80:
            found.append(apdu[2])
        elif apdu[:1] == b"\xdb" and apdu[2 + apdu[1]] < 0x80:  # general-glo-ciphering
            found.append(apdu[3 + apdu[1]])
        elif apdu[:1] in (b"\x60", b"\x61") and (match := _INITIATE.search(apdu)):
            found.append(match.group(1)[0])
    return found


def aarq_mechanism(connection: DlmsConnection) -> int:
    """The mechanism id the session's AARQ named (``8B 07 60 85 74 05 08 02 <id>``)."""
    name = bytes.fromhex("8b07608574050802")
    aarq = next(
        bytes(entry.data)
        for entry in connection.trace.entries
        if entry.direction == "tx" and name in entry.data
    )
    return aarq[aarq.index(name) + len(name)]


@pytest.mark.parametrize("framing", ["wrapper", "hdlc"])
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_each_mechanism_associates_and_reads(start_fleet, mechanism: str, framing: str) -> None:
    fleet = start_fleet(authentication=mechanism, framing=framing)
    settings = fleet.endpoints[0].settings
    assert settings["authentication"] == mechanism
    with connect(fleet) as connection:
        read_checked(fleet, connection)
    assert aarq_mechanism(connection) == MECHANISM_IDS[mechanism]
    notes = [entry.text for entry in connection.trace.entries if entry.direction == "note"]
    assert "HLS pass 3" in notes and "associated" in notes


def test_high_is_gmac(start_fleet) -> None:
    """Settings kept from before the other mechanisms (``authentication=high``) still work."""
    fleet = start_fleet(authentication="high")
    with connect(fleet) as connection:
        read_checked(fleet, connection)
    assert aarq_mechanism(connection) == 5
    with connect(fleet, authentication="gmac", invocation_counter=connection.state[
        "invocation_counter"
    ]) as again:  # fmt: skip
        assert again.read_clock().quality is Quality.VALID


@pytest.mark.parametrize("mechanism", ["manufacturer", "md5", "sha1", "sha256"])
def test_a_wrong_secret_is_an_authentication_failure(start_fleet, mechanism: str) -> None:
    fleet = start_fleet(authentication=mechanism)
    secret = fleet.endpoints[0].settings["password"]
    wrong = ("0" if secret[0] != "0" else "1") + secret[1:]
    with pytest.raises(AuthenticationFailed, match="HLS"):
        connect(fleet, password=wrong)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_a_meter_with_another_secret_refuses(start_fleet, mechanism: str) -> None:
    """The meter's secret (or, for GMAC, its authentication key) differs from the client's."""
    fleet = start_fleet(authentication=mechanism, faults=Faults(wrong_password=True))
    with pytest.raises(AuthenticationFailed):
        connect(fleet)


def test_gmac_with_a_wrong_authentication_key(start_fleet) -> None:
    fleet = start_fleet(authentication="gmac")
    key = fleet.endpoints[0].settings["authentication_key"]
    wrong = ("0" if key[0] != "0" else "1") + key[1:]
    with pytest.raises(AuthenticationFailed):
        connect(fleet, authentication_key=wrong)


def test_another_mechanism_than_the_meters_is_refused_at_the_aare(start_fleet) -> None:
    fleet = start_fleet(authentication="md5")
    with pytest.raises(AuthenticationFailed, match="rejected"):
        connect(fleet, authentication="sha1")


@pytest.mark.parametrize("mechanism", ["manufacturer", "md5", "sha1", "sha256", "low"])
def test_password_mechanisms_with_ciphered_apdus(start_fleet, mechanism: str) -> None:
    """A meter whose policy wants ciphering: the mechanism plus glo-ciphered APDUs."""
    fleet = start_fleet(authentication=mechanism, security="authentication_encryption")
    with connect(fleet) as connection:
        read_checked(fleet, connection)
    frames = b"".join(entry.data for entry in connection.trace.entries)
    assert b"\xc8" in frames and b"\xcc" in frames  # glo-get-request / -response
    assert int(connection.state["invocation_counter"]) > 1
    # The same meter refuses an unciphered association.
    with pytest.raises(AuthenticationFailed):
        connect(fleet, security="none")


def test_unciphered_password_mechanisms_keep_no_counter(start_fleet) -> None:
    fleet = start_fleet(authentication="md5")
    with connect(fleet) as connection:
        connection.read_clock()
    assert "invocation_counter" not in connection.state


@pytest.mark.parametrize(("suite", "mechanism"), [(1, "gmac"), (2, "gmac"), (1, "md5"),
                                                  (2, "sha256")])  # fmt: skip
@pytest.mark.parametrize("framing", ["wrapper", "hdlc"])
def test_security_suites_1_and_2_with_symmetric_keys(
    start_fleet, suite: int, mechanism: str, framing: str
) -> None:
    security = "authentication_encryption"
    fleet = start_fleet(
        authentication=mechanism, security_suite=str(suite), security=security, framing=framing
    )
    settings = fleet.endpoints[0].settings
    assert settings["security_suite"] == str(suite)
    assert len(bytes.fromhex(settings["block_cipher_key"])) == (32 if suite == 2 else 16)
    with connect(fleet) as connection:
        read_checked(fleet, connection)
    # Every ciphered APDU, both ways, has the suite in its security control byte.
    controls = security_controls(connection, framing)
    assert len(controls) >= 6  # AARQ, AARE, pass 3 and 4, at least one GET each way
    assert set(controls) == {0x30 | suite}


def test_suite_2_needs_256_bit_keys() -> None:
    keys = {"authentication_key": "11" * 16, "block_cipher_key": "22" * 16}
    with pytest.raises(InvalidValue) as caught:
        DlmsSettings.parse(
            {"authentication": "gmac", "security_suite": "2", "system_title": "33" * 8, **keys}
        )
    assert caught.value.field == "settings.authentication_key"
    assert "32-byte" in caught.value.reason and "11" * 16 not in str(caught.value)


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"authentication": "md5"}, "password is needed for authentication=md5"),
        ({"authentication": "sha256", "password": "s"}, "system_title is needed"),
        ({"authentication": "manufacturer", "password": "x" * 17}, "at most 16 bytes"),
        ({"authentication": "low", "password": "p", "security": "encryption"},
         "authentication_key is needed for authentication=low with security=encryption"),
        ({"authentication": "ecdsa"}, "authentication"),
        ({"security_suite": "3"}, "security_suite"),
    ],
)  # fmt: skip
def test_mechanism_settings_are_checked(settings: dict[str, str], complaint: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        DlmsSettings.parse(settings)
    assert complaint in str(caught.value)


def test_the_default_security_follows_the_mechanism() -> None:
    gmac = DlmsSettings.parse(
        {"authentication": "gmac", "authentication_key": "11" * 16,
         "block_cipher_key": "22" * 16, "system_title": "33" * 8}
    )  # fmt: skip
    md5 = DlmsSettings.parse({"authentication": "md5", "password": "secret"})
    assert (gmac.effective_security, gmac.ciphered) == ("authentication_encryption", True)
    assert (md5.effective_security, md5.ciphered) == ("none", False)


# -- what gurux does, which the docs state -----------------------------------------------------


def test_gurux_mechanism_2_is_aes_128_ecb_of_the_challenge() -> None:
    """Mechanism 2 in gurux: AES-128 (ECB) of the challenge, keyed with the zero-padded secret."""
    secret = meter_secrets("DLMS-0001")["hls_secret"].encode()
    challenge = bytes(range(16))
    block = bytearray(challenge)
    GXDLMSChipperingStream.aes1Encrypt(block, 0, bytearray(secret))
    encryptor = Cipher(algorithms.AES(secret.ljust(16, b"\0")), modes.ECB()).encryptor()
    assert bytes(block) == encryptor.update(challenge) + encryptor.finalize()


@pytest.mark.parametrize(("suite", "size"), [(0, 16), (1, 16), (2, 32)])
def test_gurux_ciphering_is_aes_gcm_of_the_suite(suite: int, size: int) -> None:
    """Suites 0 and 1 cipher with AES-GCM-128, suite 2 with AES-GCM-256 (tag 12 bytes)."""
    key, auth_key, title = bytes(range(size)), bytes(range(1, size + 1)), b"MHC\x01\x02\x03\x04\x05"
    plain, counter = b"\xc0\x01\xc1\x00\x08\x00\x00\x01\x00\x00\xff\x02\x00", 0x0102
    parameter = AesGcmParameter(0x21, bytearray(title), bytearray(key), bytearray(auth_key))
    parameter.security = Security.AUTHENTICATION_ENCRYPTION
    parameter.securitySuite = suite
    parameter.invocationCounter = counter
    parameter.type_ = CountType.DATA | CountType.TAG
    ciphered = bytes(GXDLMSChippering.encryptAesGcm(parameter, bytearray(plain)))
    control = 0x30 | suite
    nonce = title + counter.to_bytes(4, "big")
    reference = AESGCM(key).encrypt(nonce, plain, bytes([control]) + auth_key)
    assert ciphered == reference[: len(plain)] + reference[len(plain) : len(plain) + 12]


def test_gurux_server_has_no_ecdsa_mechanism() -> None:
    """Mechanism 7 (ECDSA, suites 1 and 2) cannot be served by gurux: the docs say so."""
    settings = GXDLMSSettings(True, None)
    settings.authentication = Authentication.HIGH_ECDSA
    event = ValueEventArgs(settings, None, 1, 0, bytearray(64))
    with pytest.raises(ValueError, match="ECDSA is not implemented"):
        GXDLMSAssociationLogicalName().invoke(settings, event)
