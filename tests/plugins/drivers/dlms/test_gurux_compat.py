"""One test per gurux-dlms server defect that ``gurux_compat`` works around.

Each test shows the defect in the pinned gurux-dlms (1.0.203). When one fails, gurux has fixed
that defect: drop its workaround from ``meterhub.plugins.drivers.dlms.gurux_compat`` and the
test with it. Defects the compatibility module patches into gurux classes (4, 10, 13, 14, 16,
20) are probed in a fresh interpreter, since this process may already hold the patches.
"""

from __future__ import annotations

import inspect
import re
import socket
from datetime import UTC, datetime

import pytest
from gurux_dlms import GXByteBuffer, GXDateTime
from gurux_dlms.enums import Authentication, DataType, InterfaceType
from gurux_dlms.GXCiphering import GXCiphering
from gurux_dlms.GXDLMSLNCommandHandler import GXDLMSLNCommandHandler
from gurux_dlms.GXDLMSServer import GXDLMSServer
from gurux_dlms.GXDLMSSettings import GXDLMSSettings
from gurux_dlms.GXHdlcSettings import GXHdlcSettings
from gurux_dlms.GXServerReply import GXServerReply
from gurux_dlms.internal._GXCommon import _GXCommon
from gurux_dlms.objects import (
    GXDLMSAssociationLogicalName,
    GXDLMSClock,
    GXDLMSImageTransfer,
    GXDLMSProfileGeneric,
)
from gurux_dlms.secure import GXDLMSSecureServer
from gurux_dlms.ValueEventArgs import ValueEventArgs

from meterhub.plugins.drivers.dlms import gurux_compat

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def unpatched() -> dict[str, str]:
    return gurux_compat.probe_unpatched()


def _server(interface: InterfaceType = InterfaceType.WRAPPER) -> GXDLMSServer:
    server = GXDLMSServer(True, interface)
    association = GXDLMSAssociationLogicalName()
    server.items.append(association)
    association.objectList.append(association)
    server.initialize()
    return server


def test_defect_1_server_reply_lacks_accessors() -> None:
    reply = GXServerReply(bytearray())
    for name in ("setReply", "getConnectionInfo", "getCount", "setCount"):
        assert not hasattr(reply, name), name
    assert "sr.setReply(" in inspect.getsource(GXDLMSServer.handleRequest)


def test_defect_2_server_lacks_what_the_ln_handler_calls() -> None:
    source = inspect.getsource(GXDLMSLNCommandHandler)
    for name in ("notifyRead", "notifyConnected", "getTransaction", "setTransaction"):
        assert f"server.{name}(" in source, name
        assert not hasattr(GXDLMSServer, name), name


def test_defect_3_on_post_read_is_called_without_arguments() -> None:
    assert "server.onPostRead()" in inspect.getsource(GXDLMSLNCommandHandler.getRequestNormal)


def test_defect_4_is_skip_max_pdu_size_is_undefined(unpatched: dict[str, str]) -> None:
    assert unpatched["isSkipMaxPduSize"].startswith("AttributeError")


def test_defect_5_initialize_needs_the_object_list_filled_first() -> None:
    server = GXDLMSServer(True, InterfaceType.WRAPPER)
    server.items.append(GXDLMSClock())
    with pytest.raises(TypeError, match="item is not of type GXDLMSObject"):
        server.initialize()


def test_defect_6_gxnet_server_send_goes_to_the_listening_socket() -> None:
    from gurux_net import GXNet
    from gurux_net.enums import NetworkType

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    net = GXNet(NetworkType.TCP, "127.0.0.1", port)
    net.server = True
    net.open()
    try:
        with pytest.raises(OSError):
            net.send(b"\x00\x01")  # no receiver: sendall on the listening socket
    finally:
        # GXNet.close() neither shuts the listening socket down nor ends its accept thread
        # (a non-daemon thread that would keep the test process alive): end both here.
        accept_thread = net._GXNet__aThread
        listener = net._GXNet__socket
        net._GXNet__socket = None
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        accept_thread.join(5)
        assert not accept_thread.is_alive()


def test_defect_7_snrm_reads_limits_from_a_missing_hdlc_object() -> None:
    server = _server(InterfaceType.HDLC)
    assert server.hdlc is None
    with pytest.raises(AttributeError, match="maxInfoTX"):
        server.handleSnrmRequest(GXByteBuffer())
    assert not hasattr(GXHdlcSettings(), "update")
    assert "self.settings.hdlc.update(" in inspect.getsource(GXDLMSServer.handleSnrmRequest)


def test_defect_8_the_error_path_itself_fails() -> None:
    server = _server()
    source = inspect.getsource(GXDLMSServer.handleRequest)
    assert "self.receivedData.size(0)" in source
    with pytest.raises(TypeError):
        server.receivedData.size(0)
    # A frame gurux cannot parse is answered with an HDLC frame whatever the framing.
    assert "getHdlcFrame(self.settings, Command.UNACCEPTABLE_FRAME" in source


def test_defect_9_secure_server_keeps_its_ciphering_where_nobody_reads_it() -> None:
    server = GXDLMSSecureServer(True, InterfaceType.WRAPPER)
    assert server.settings.cipher is None
    assert isinstance(server.settings.ciphering, GXCiphering)


def test_defect_10_value_event_args_is_not_iterable(unpatched: dict[str, str]) -> None:
    assert unpatched["list"].startswith("TypeError")
    assert "list(e)" in inspect.getsource(GXDLMSLNCommandHandler.handleMethodRequest)


def test_defect_11_next_block_reads_a_misspelt_setting() -> None:
    assert "settings.gbtWndowSize" in inspect.getsource(
        GXDLMSLNCommandHandler.getRequestNextDataBlock
    )
    assert not hasattr(GXDLMSSettings(True, None), "gbtWndowSize")


def test_defect_12_profile_selection_by_range_compares_datetime_with_zero() -> None:
    settings = GXDLMSSettings(True, None)
    profile = GXDLMSProfileGeneric("1.0.99.1.0.255")
    clock = GXDLMSClock()
    profile.addCaptureObject(clock, 2, 0)
    moment = GXDateTime(datetime(2026, 1, 1, tzinfo=UTC))
    profile.buffer = [[moment, 1]]
    encoded = GXByteBuffer()
    _GXCommon.setData(settings, encoded, DataType.OCTET_STRING, moment)
    stamp = bytearray(encoded.array()[2:])
    parameters = [[8, bytearray([0, 0, 1, 0, 0, 255]), 2, 0], stamp, stamp, []]
    event = ValueEventArgs(settings, profile, 2, 1, parameters)
    with pytest.raises((AttributeError, TypeError)):
        profile.getValue(settings, event)  # no getRowEndIndex(); then datetime >= 0


def test_defect_13_set_handler_calls_missing_parameter_accessors(
    unpatched: dict[str, str],
) -> None:
    assert unpatched["isMultipleBlocks"].startswith("AttributeError")
    assert unpatched["setStatus"].startswith("AttributeError")


def test_defect_14_gurux_prints_to_stdout(unpatched: dict[str, str]) -> None:
    assert unpatched["print"] and unpatched["client_print"] and unpatched["apdu_print"]


def test_defect_15_aare_with_a_system_title_cannot_be_built() -> None:
    import importlib

    apdu = importlib.import_module("gurux_dlms._GXAPDU")._GXAPDU
    settings = GXDLMSSettings(True, None)
    settings.cipher = GXCiphering(bytearray(b"MHSIM001"))
    settings.authentication = Authentication.HIGH_GMAC
    settings.stoCChallenge = bytearray(16)
    with pytest.raises(TypeError, match="setUInt8"):
        apdu.generateAARE(settings, GXByteBuffer(), 0, 0, settings.cipher, None, None)
    # The workaround's buffer builds it.
    apdu.generateAARE(settings, gurux_compat.AareBuffer(), 0, 0, settings.cipher, None, None)


def test_defect_16_reply_data_lacks_get_cipher_index(unpatched: dict[str, str]) -> None:
    assert unpatched["getCipherIndex"].startswith("AttributeError")


def test_defect_17_glo_request_parameters_are_shifted() -> None:
    import importlib

    source = inspect.getsource(importlib.import_module("gurux_dlms.GXDLMS").GXDLMS)
    assert re.search(r"AesGcmParameter\(\s*settings\.sourceSystemTitle", source)


def test_defect_18_hls_reply_converts_bytes_with_int() -> None:
    settings = GXDLMSSettings(True, None)
    settings.authentication = Authentication.HIGH_GMAC
    settings.cipher = GXCiphering(bytearray(b"MHSIM001"))
    settings.sourceSystemTitle = bytearray(b"MHCLIENT")
    event = ValueEventArgs(settings, GXDLMSAssociationLogicalName(), 1, 0, bytearray(17))
    with pytest.raises(ValueError, match="int"):
        GXDLMSAssociationLogicalName().invoke(settings, event)


def test_defect_19_action_handler_calls_missing_association_accessors() -> None:
    source = inspect.getsource(GXDLMSLNCommandHandler.handleMethodRequest)
    assert "getAssociationStatus()" in source and "settings.setConnected(" in source
    assert not hasattr(GXDLMSAssociationLogicalName, "getAssociationStatus")
    assert not hasattr(GXDLMSSettings, "setConnected")


def test_defect_20_long_transaction_lacks_set_data(unpatched: dict[str, str]) -> None:
    assert unpatched["setData"].startswith("AttributeError")


def _image_event(method: int, parameters: list) -> tuple[GXDLMSSettings, ValueEventArgs]:
    settings = GXDLMSSettings(True, None)
    return settings, ValueEventArgs(settings, None, method, 0, parameters)


def test_defect_21_image_transfer_initiate_nests_the_activate_info() -> None:
    image = GXDLMSImageTransfer()
    settings, event = _image_event(1, [bytearray(b"FW-2"), 400])
    image.invoke(settings, event)
    assert isinstance(image.imageActivateInfo[0], list)  # the old list, as one item
    with pytest.raises(AttributeError, match="size"):
        image.getValue(settings, ValueEventArgs(settings, image, 7, 0, None))
    # The workaround keeps a flat list that can be read.
    fixed = gurux_compat.CompatImageTransfer()
    fixed.invoke(settings, event)
    assert [bytes(i.identification) for i in fixed.imageActivateInfo] == [b"FW-2"]
    fixed.getValue(settings, ValueEventArgs(settings, fixed, 7, 0, None))


def test_defect_22_image_block_transfer_cannot_store_a_block() -> None:
    image = GXDLMSImageTransfer()
    settings, event = _image_event(1, [bytearray(b"FW-2"), 400])
    image.invoke(settings, event)
    _, block = _image_event(2, [0, bytearray(200)])
    with pytest.raises(AttributeError, match="longValue"):
        image.invoke(settings, block)
    source = inspect.getsource(GXDLMSImageTransfer.invoke)
    assert ".encode()" in source and "self.imageData.put(" in source
    assert GXDLMSImageTransfer().imageData is None
    # The workaround records the block and its status bit.
    fixed = gurux_compat.CompatImageTransfer()
    fixed.invoke(settings, event)
    fixed.invoke(settings, block)
    assert fixed.blocks == {0: bytes(200)}
    assert fixed.imageTransferredBlocksStatus == "10"
    assert fixed.imageFirstNotTransferredBlockNumber == 1


def test_defect_23_aare_authentication_value_has_the_inner_length_outside() -> None:
    import importlib

    apdu = importlib.import_module("gurux_dlms._GXAPDU")._GXAPDU
    settings = GXDLMSSettings(True, None)
    settings.authentication = Authentication.HIGH  # no AP title: defect 15 stays out
    settings.stoCChallenge = bytearray(range(16))
    plain = GXByteBuffer()
    apdu.generateAARE(settings, plain, 0, 0, None, None, None)
    assert b"\xaa\x10\x80\x10" + bytes(range(16)) in bytes(plain.array())
    fixed = gurux_compat.AareBuffer()
    apdu.generateAARE(settings, fixed, 0, 0, None, None, None)
    assert b"\xaa\x12\x80\x10" + bytes(range(16)) in bytes(fixed.array())


class _ListServer:
    """What ``getRequestWithList`` asks of a server: no object is found."""

    def __init__(self, settings: GXDLMSSettings) -> None:
        self.settings = settings

    def onFindObject(self, *args: object) -> None:
        return None

    def onPreRead(self, args: object) -> None:
        pass

    def onPostRead(self, args: object) -> None:
        pass


def test_defect_24_get_with_list_drops_the_access_result_of_a_missing_object() -> None:
    def answer(handler: type) -> bytes:
        settings = GXDLMSSettings(True, None)
        request = GXByteBuffer()
        request.set(bytes.fromhex("0100030100010800ff0200"))  # 1 descriptor
        reply = GXByteBuffer()
        handler.getRequestWithList(settings, 0xC1, _ListServer(settings), request, reply, None)
        return bytes(reply.array())

    # get-response-with-list (C4 03), invoke id, 1 result: only "01", no data-access-result.
    assert answer(GXDLMSLNCommandHandler).endswith(bytes.fromhex("c403c10101"))
    assert answer(gurux_compat.CompatLNCommandHandler).endswith(bytes.fromhex("c403c1010104"))


def test_defect_25_settings_lack_get_max_pdu_size(unpatched: dict[str, str]) -> None:
    assert unpatched["getMaxPduSize"].startswith("AttributeError")
    source = inspect.getsource(GXDLMSLNCommandHandler.getRequestNextDataBlock)
    assert "settings.getMaxPduSize()" in source


def _apdu_module():
    import importlib

    return importlib.import_module("gurux_dlms._GXAPDU")._GXAPDU


def test_defect_26_sha256_aare_has_no_responding_ap_title() -> None:
    from meterhub.plugins.drivers.dlms.gurux_compat.aare import aare_fields

    settings = GXDLMSSettings(True, None)
    settings.cipher = GXCiphering(bytearray(b"MHSIM001"))  # security none: not ciphered
    settings.authentication = Authentication.HIGH_SHA256
    settings.stoCChallenge = bytearray(range(16))
    built = gurux_compat.AareBuffer()  # defect 23 corrected, so the fields can be walked
    _apdu_module().generateAARE(settings, built, 0, 14, settings.cipher, None, None)
    found = aare_fields(bytes(built.array()))
    assert found is not None
    assert 0xA4 not in [tag for tag, _, _ in found[1]]
    # The workaround adds it after the result-source-diagnostic.
    assert gurux_compat.add_responding_ap_title(built, b"MHSIM001")
    tags = [tag for tag, _, _ in aare_fields(bytes(built.array()))[1]]
    assert tags[tags.index(0xA3) + 1] == 0xA4
    assert b"\xa4\x0a\x04\x08MHSIM001" in bytes(built.array())


def test_defect_27_the_server_hashes_the_sha256_secret_alone() -> None:
    import hashlib

    from gurux_dlms.GXSecure import GXSecure

    source = inspect.getsource(GXDLMSAssociationLogicalName.invoke)
    assert "HIGH_SHA256" not in source and "readSecret = self.secret" in source
    # What the server computes from the bare secret: the challenges play no part.
    settings = GXDLMSSettings(True, None)
    settings.authentication = Authentication.HIGH_SHA256
    first = GXSecure.secure(settings, None, 0, bytearray(b"challenge-1"), bytearray(b"secret"))
    second = GXSecure.secure(settings, None, 0, bytearray(b"challenge-2"), bytearray(b"secret"))
    assert bytes(first) == bytes(second) == hashlib.sha256(b"secret").digest()


def test_defect_28_the_initiate_response_is_ciphered_in_suite_0() -> None:
    from gurux_dlms.enums import Security

    settings = GXDLMSSettings(True, None)
    settings.cipher = GXCiphering(bytearray(b"MHSIM001"))
    settings.cipher.security = Security.AUTHENTICATION_ENCRYPTION
    settings.cipher.securitySuite = 1
    settings.cipher.blockCipherKey = bytearray(range(16))
    settings.cipher.authenticationKey = bytearray(range(16, 32))
    response = bytes(_apdu_module().getUserInformation(settings, settings.cipher))
    assert response[0] == 0x28 and response[2] == 0x30  # suite 0, not the cipher's 1
    # The workaround ciphers it again in suite 1 inside an AARE.
    aare = bytes.fromhex("6100") + bytes([0xBE, len(response) + 2, 0x04, len(response)])
    aare = bytearray(aare + response)
    aare[1] = len(aare) - 2
    reply = GXByteBuffer(aare)
    assert gurux_compat.cipher_initiate_response_in_suite(reply, settings)
    fixed = bytes(reply.array())
    assert len(fixed) == len(aare) and fixed[8] == 0x31


# -- short name referencing (29–39) ------------------------------------------------------------


def test_defect_29_the_sn_association_denies_every_attribute() -> None:
    from gurux_dlms.enums import ErrorCode
    from gurux_dlms.objects import GXDLMSAssociationShortName

    settings = GXDLMSSettings(True, None)
    association = GXDLMSAssociationShortName()
    event = ValueEventArgs(settings, association, 1, 0, None)
    association.getValue(settings, event)
    assert event.error == ErrorCode.READ_WRITE_DENIED
    assert "e.isSkipMaxPduSize()" in inspect.getsource(GXDLMSAssociationShortName.getObjects)
    # The workaround's object list: base name, class, version, logical name per object.
    fixed = gurux_compat.CompatSNAssociation()
    clock = GXDLMSClock()
    clock.shortName, clock.version = 0x0A00, 1
    fixed.objectList.append(clock)
    event = ValueEventArgs(settings, fixed, 2, 0, None)
    encoded = bytes(fixed.getValue(settings, event))
    assert event.error == ErrorCode.OK
    assert encoded == bytes.fromhex(
        "0101020410 0a00 120008 1101 0906 0000010000ff".replace(" ", "")
    )


def test_defect_30_the_sn_read_handler_calls_its_transaction() -> None:
    from gurux_dlms.GXDLMSSNCommandHandler import GXDLMSSNCommandHandler

    source = inspect.getsource(GXDLMSSNCommandHandler.handleReadRequest)
    assert "server.transaction()" in source
    settings = GXDLMSSettings(True, None)
    clock = GXDLMSClock()
    clock.shortName = 0x0A00
    settings.objects.append(clock)
    found = GXDLMSSNCommandHandler.findSNObject(None, settings, 0x0A08)
    assert found.item is clock and found.index == 2 and isinstance(found.index, float)
    # The workaround's lookup: whole indexes, and nothing for an unknown base name.
    assert gurux_compat.find_short_name([clock], 0x0A08) == (clock, 2, False)
    assert gurux_compat.find_short_name([clock], 0x2000) is None


def test_defect_31_sn_data_blocks_are_sized_by_the_wrong_buffer() -> None:
    from gurux_dlms.enums import Command
    from gurux_dlms.GXDLMS import GXDLMS
    from gurux_dlms.GXDLMSSNParameters import GXDLMSSNParameters

    settings = GXDLMSSettings(True, None)
    settings.interfaceType = InterfaceType.WRAPPER
    settings.maxPduSize = 100
    answer = GXByteBuffer(bytearray(500))
    reply = GXByteBuffer()
    GXDLMS.getSNPdu(GXDLMSSNParameters(settings, Command.READ_RESPONSE, 1, 0, None, answer), reply)
    block = bytes(reply.array())
    # read-response, 1, data-block-result, last-block = 1 although 500 bytes do not fit 100
    assert block[:4] == bytes.fromhex("0c010201")
    assert len(block) < 100 and answer.position < 500
    assert "reply.available()" in inspect.getsource(GXDLMS.appendMultipleSNBlocks)


def test_defect_32_the_sn_write_handler_writes_to_methods() -> None:
    from gurux_dlms.GXDLMSSNCommandHandler import GXDLMSSNCommandHandler
    from gurux_dlms.GXSNInfo import GXSNInfo

    source = inspect.getsource(GXDLMSSNCommandHandler.handleWriteRequest)
    assert "target.item.setValue(" in source and ".invoke(" not in source
    assert "target.getItem()" in source and not hasattr(GXSNInfo(), "getItem")


def test_defect_33_action_info_falls_through_for_clock_and_profile() -> None:
    from gurux_dlms.enums import ObjectType
    from gurux_dlms.GXDLMS import GXDLMS

    found = {}
    for kind in (ObjectType.CLOCK, ObjectType.PROFILE_GENERIC):
        offset, count = [0], [0]
        GXDLMS.getActionInfo(kind, offset, count)
        found[kind] = (offset[0], count[0])
    # The Blue Book: clock methods from 0x60 (6), profile generic from 0x58 (4).
    assert found == {ObjectType.CLOCK: (0x38, 1), ObjectType.PROFILE_GENERIC: (0x28, 2)}
    # updateShortNames would give the clock 0x40 base names for 9 attributes (0x48).
    assert 0x38 + 8 * 1 < 8 * GXDLMSClock().getAttributeCount()
    profile, clock = GXDLMSProfileGeneric(), GXDLMSClock()
    gurux_compat.assign_short_names([clock, profile])
    assert profile.shortName - clock.shortName >= 8 * (9 + 6)


def test_defect_34_reply_data_lacks_what_sn_data_blocks_call(unpatched: dict[str, str]) -> None:
    assert unpatched["setTotalCount"].startswith("AttributeError")
    assert unpatched["getMoreData"].startswith("AttributeError")


def _sn_client(authentication: Authentication = Authentication.NONE, password: str | None = None):
    from gurux_dlms import GXDLMSClient

    return GXDLMSClient(False, 1, 1, authentication, password, InterfaceType.WRAPPER)


def test_defect_35_the_next_sn_block_request_has_no_command() -> None:
    from gurux_dlms.enums.RequestTypes import RequestTypes
    from gurux_dlms.GXReplyData import GXReplyData

    client = _sn_client()
    clock = GXDLMSClock()
    clock.shortName = 0x0A00
    client.read(clock, 2)
    reply = GXReplyData()
    reply.moreData = RequestTypes.DATABLOCK
    assert bytes(client.receiverReady(reply))[8] == 0  # no ReadRequest (5)
    assert bytes(gurux_compat.next_block_request(client, reply))[8:] == bytes.fromhex("05010500 02")


def test_defect_36_sn_hls_pass_3_is_a_write_request() -> None:
    from meterhub.plugins.drivers.dlms.masking import apdu_of

    client = _sn_client(Authentication.HIGH_MD5, "secret")
    client.settings.stoCChallenge = bytearray(range(16))
    client.settings.ctoSChallenge = bytearray(range(16, 32))
    client.settings.cipher = GXCiphering(bytearray(b"MHCLIENT"))
    (frame,) = client.getApplicationAssociationRequest()
    assert bytes(frame)[8] == 0x06  # WriteRequest: its answer has no data
    (request,) = gurux_compat.sn_hls_request(client, lambda frames: apdu_of(frames, "wrapper"))
    assert bytes(request)[8:15] == bytes.fromhex("050104fa580009")  # ReadRequest, method 8


def test_defect_37_a_refused_item_drops_out_of_an_sn_list() -> None:
    from gurux_dlms.GXReplyData import GXReplyData

    client = _sn_client()
    apdu = bytes.fromhex("0c020104000600000001")  # item 1 refused (4), item 2 = 1
    frame = bytes.fromhex("000100010001") + len(apdu).to_bytes(2, "big") + apdu
    reply = GXReplyData()
    client.getData(GXByteBuffer(bytearray(frame)), reply, GXReplyData())
    assert reply.value == [1] and not reply.error  # two items, one value, no error


def test_defect_38_an_sn_block_over_hdlc_frames_is_not_put_together() -> None:
    """A gurux client reading a long SN object list from the simulated meter over HDLC."""
    from gurux_dlms import GXDLMSClient
    from gurux_dlms.GXReplyData import GXReplyData

    from meterhub.extensions.driverkit import SimulatedMeter
    from meterhub.extensions.simulator import Faults
    from meterhub.plugins.drivers.dlms.addressing import server_address
    from meterhub.plugins.drivers.dlms.simulator import MeterState, meter_secrets
    from meterhub.plugins.drivers.dlms.simulator.server import _Session

    def read_list(max_pdu: int) -> bool:
        state = MeterState("SN-0001", SimulatedMeter("SN-0001"), Faults(), "none",
                           meter_secrets("SN-0001"), referencing="sn")  # fmt: skip
        session = _Session(state, InterfaceType.HDLC)
        address, _ = server_address(1, 17, 0)
        client = GXDLMSClient(False, 16, address, Authentication.NONE, None, InterfaceType.HDLC)
        client.maxReceivePDUSize = max_pdu

        def exchange(frame: bytes, reply: GXReplyData) -> bool:
            answer, _ = session.handle(bytes(frame))
            if answer is None:
                return False
            client.getData(GXByteBuffer(bytearray(answer)), reply, GXReplyData())
            return True

        reply = GXReplyData()
        exchange(client.snrmRequest(), reply)
        client.parseUAResponse(reply.data)
        reply = GXReplyData()
        exchange(client.aarqRequest()[0], reply)
        client.parseAareResponse(reply.data)
        reply = GXReplyData()
        if not exchange(client.getObjectsRequest(), reply):
            return False
        for _ in range(200):
            if not reply.isMoreData():
                return len(client.parseSNObjects(reply.data, True, True)) > 100
            if not exchange(gurux_compat.next_block_request(client, reply), reply):
                return False  # the meter drops the stale request
        return False

    assert read_list(1024) is False  # 1 KB blocks in 128-byte HDLC frames
    assert read_list(125) is True  # the workaround: one frame per block


def test_defect_39_sn_requests_cannot_be_ciphered() -> None:
    from gurux_dlms.GXDLMS import GXDLMS

    assert "assert not tmp" in inspect.getsource(GXDLMS.getSNPdu)
