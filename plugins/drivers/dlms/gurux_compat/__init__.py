"""COMPATIBILITY MODULE: every workaround for the server side of gurux-dlms 1.0.203.

The simulator builds on gurux-dlms' server classes (:class:`GXDLMSSecureServer`), whose
released Python port has defects (``../shared/PITFALLS.md``). Every workaround lives here, and
nowhere else, under the number of its defect. ``tests/plugins/drivers/dlms/test_gurux_compat.py``
has one test per defect that shows the defect still exists in the pinned version: when gurux fixes
one, its test fails and tells us to drop the workaround.

==  =========================================================================================
#   Defect (gurux-dlms 1.0.203) → workaround
==  =========================================================================================
1   ``GXServerReply`` lacks ``setReply``, ``getConnectionInfo``, ``getCount``, ``setCount``,
    which ``GXDLMSServer.handleRequest`` calls → :class:`CompatServerReply` adds them.
2   The LN command handler calls ``notifyRead``, ``notifyConnected``, ``getTransaction`` and
    ``setTransaction`` on the server, which ``GXDLMSServer`` does not define →
    :class:`CompatServer` defines them.
3   ``onPostRead()`` is called with no arguments → :meth:`CompatServer.onPostRead` takes an
    optional argument.
4   ``ValueEventArgs.isSkipMaxPduSize`` is read (association object list) but never defined
    → :func:`install` adds it as a read-only property over ``skipMaxPduSize``.
5   ``initialize()`` raises ``TypeError: item is not of type GXDLMSObject`` unless the
    association's object list is filled first → :meth:`CompatServer.add_objects` fills the
    association's ``GXDLMSObjectCollection`` before ``initialize()``.
6   ``GXNet.send(data)`` in server mode writes to the *listening* socket; it needs the
    receive event object to reply on the right client socket → the simulator does not use
    ``GXNet`` as a server: it runs its own socket loop and feeds :meth:`CompatServer.reply`.
7   HDLC: ``handleSnrmRequest`` uses ``self.hdlc.maxInfoTX`` while ``self.hdlc`` is ``None``;
    the error is swallowed and a malformed UA goes out. With ``self.hdlc`` set, it calls
    ``settings.hdlc.update()``, which ``GXHdlcSettings`` lacks (it has ``_update``) →
    :class:`CompatServer` sets ``self.hdlc`` to :class:`HdlcLimits`, which has every name the
    SNRM/DISC code reads, and gives its ``settings.hdlc`` an ``update`` that restores the
    meter's defaults before the client's SNRM parameters are parsed.
8   When the server's own error path fails (``receivedData.size(0)`` calls an ``int``;
    ``reportError`` builds a PDU from ``None``), it sends nothing and a client without a
    timeout hangs (and a frame it cannot parse is answered with an *HDLC* frame even on the
    wrapper) → :meth:`CompatServer.reply` catches what escapes and answers with a
    confirmed-service-error, so a client always gets an answer.
9   ``GXDLMSSecureServer`` stores its ciphering in ``settings.ciphering``, but the server
    code reads ``settings.cipher`` (always ``None``): no ciphered association is possible →
    :class:`CompatServer` sets ``settings.cipher``.
10  The SET and ACTION handlers call ``list(e)`` on one ``ValueEventArgs``, which is not
    iterable, so every write and every method fails (hardware fault, or no answer) →
    :func:`install` makes ``ValueEventArgs`` iterate over itself.
11  The next-data-block handler reads ``settings.gbtWndowSize`` (sic), which does not exist, so
    a GET answer longer than one PDU cannot continue → :class:`CompatServer` sets it.
12  ``GXDLMSProfileGeneric`` selective access calls ``e.getRowEndIndex()``, which
    ``ValueEventArgs`` lacks, and by range compares the row's ``datetime`` with ``0``
    (``TypeError``) → the simulator's profile objects select and encode their rows
    themselves (``meterhub.plugins.drivers.dlms.simulator``).
13  The SET handler calls ``p.isMultipleBlocks()`` and ``p.setStatus()`` on
    ``GXDLMSLNParameters``, which has only the attributes ``multipleBlocks`` and ``status``:
    every SET fails → :func:`install` adds the two accessors.
14  gurux prints to stdout: ``GXDLMSChippering.decryptAesGcm`` "Encryption is applied." for
    every ciphered APDU, ``GXDLMSClient.parseApplicationAssociationResponse`` "Server did not
    accept CtoS.", ``_GXAPDU.parsePDU2`` "Unknown tag: 255." for a malformed AARE, and more
    (``GXSecure`` even prints signing keys) on both sides, so a worker's output fills up →
    :func:`install` gives every module of ``PRINTING_MODULES`` a silent ``print``.
15  ``_GXAPDU.generateAARE`` writes the responding AP title (the server's system title, needed
    by HLS GMAC) with a wrong length and then calls ``data.setUInt8()`` without a value
    (``TypeError``): no AARE for HIGH_GMAC can be built → :class:`CompatServer` gives gurux
    an :class:`AareBuffer` as its reply buffer, which turns that call into the missing inner
    length and corrects the outer one.
16  ``GXDLMS.getPdu`` calls ``GXReplyData.getCipherIndex()`` for a ciphered request (glo-get,
    glo-set, glo-action) on the server side; ``GXReplyData`` has only the attribute
    ``cipherIndex``: no ciphered request after the AARQ can be served → :func:`install` adds
    the accessor.
17  ``GXDLMS.handleGloDedRequest`` (server side only) builds its ``AesGcmParameter`` with the
    tag left out, so the client's system title lands in ``tag``, the block cipher key in
    ``systemTitle`` and the authentication key in ``blockCipherKey``: every ciphered request
    fails to decrypt → :func:`install` binds ``GXDLMS``'s name ``AesGcmParameter`` to
    :class:`ShiftTolerantAesGcmParameter`, which puts the arguments of exactly that call
    (a byte string as the tag) where they belong and is the original for every other call.
18  ``GXDLMSAssociationLogicalName.invoke`` (reply_to_HLS_authentication) calls
    ``int(e.parameters)`` on the client's byte string (``ValueError``): HLS pass 3 can never
    succeed → :class:`CompatAssociation` checks the client's answer with gurux's own
    ``GXSecure.secure`` and answers the server's.
19  After reply_to_HLS_authentication the ACTION handler calls
    ``association.getAssociationStatus()`` and ``settings.setConnected()``, neither of which
    exists, so the association never becomes usable → :class:`CompatAssociation` has the
    getter and :class:`CompatServer` gives its settings object the setter.
20  The next-data-block handler calls ``GXDLMSLongTransaction.setData()``, which does not
    exist, whenever a GET answer needs a third block: the meter then sends an empty frame →
    :func:`install` adds the setter.
21  ``GXDLMSImageTransfer.invoke`` (image_transfer_initiate) appends the activate info list to
    a new list *as one item*, so image_activate_info (attribute 7) can never be read again
    (``AttributeError: 'list' object has no attribute 'size'``: hardware fault) →
    :class:`CompatImageTransfer` keeps a flat list of ``GXDLMSImageActivateInfo``.
22  ``GXDLMSImageTransfer.invoke`` (image_block_transfer) calls Java's ``longValue()`` on the
    block number (an ``int``), then assigns into an immutable ``bytes`` and stores the block
    through ``imageData.put`` on ``None``: no block can ever be transferred →
    :class:`CompatImageTransfer` records blocks by number and keeps the blocks status bit
    string and image_first_not_transferred_block_number.
23  ``_GXAPDU.generateAARE`` writes the responding-authentication-value (the HLS challenge
    StoC) as ``AA <n> 80 <n> <StoC>``: the outer length lacks the inner tag and length, so the
    AARE is malformed BER (gurux's own client reads past it; a strict one refuses it) →
    :class:`AareBuffer` corrects the outer length.
24  ``GXDLMSLNCommandHandler.getRequestWithList`` (GET-request-with-list) answers an item it
    cannot give (object undefined, read-write denied) with ``01`` alone instead of ``01 <data-
    access-result>``, and writes the error code before the data of a refused but existing
    object: one refused item garbles the whole answer → :class:`CompatLNCommandHandler`
    encodes every item as a proper Get-Data-Result; :func:`install` binds the name
    ``GXDLMSLNCommandHandler`` in ``gurux_dlms.GXDLMSServer`` (the server's only caller) to it.
25  The next-data-block handler calls ``settings.getMaxPduSize()``, which ``GXDLMSSettings``
    lacks (it has the attribute ``maxPduSize``), whenever an answer is still being encoded
    when its first blocks go out: an association object list of about 100 objects cannot be
    read → :func:`install` adds the accessor.
26  ``_GXAPDU.generateAARE`` writes the responding-AP-title (the server's system title) only
    for GMAC or a ciphered association, but HLS SHA-256 (mechanism 6) hashes both system
    titles: gurux's client then has no server title and its pass 3 can never match →
    :meth:`CompatServer.handleAarqRequest` adds the field after the result-source-diagnostic
    (:func:`add_responding_ap_title`).
27  ``GXDLMSAssociationLogicalName.invoke`` (reply_to_HLS_authentication) hands
    ``GXSecure.secure`` the bare secret for every mechanism but GMAC; for SHA-256 that hashes
    the secret alone, without the system titles and challenges the mechanism (and gurux's
    client) include → :class:`CompatAssociation` builds ``secret ‖ ST-C ‖ ST-S ‖ StoC ‖ CtoS``
    (and the reverse for its own answer) with :func:`sha256_secret`.
28  ``_GXAPDU.getUserInformation`` ciphers the AARE's glo-initiate-response without the
    security suite (its ``AesGcmParameter`` keeps suite 0) whatever suite the association
    uses: gurux's client takes suite 0 from it and its HLS GMAC answer no longer matches →
    :meth:`CompatServer.handleAarqRequest` ciphers it again in the association's suite with
    gurux's own ``GXCiphering.encrypt`` (:func:`cipher_initiate_response_in_suite`).
29  ``GXDLMSAssociationShortName.getValue`` (class 12) ends by setting read-write-denied for
    every attribute, and its object list calls ``e.isSkipMaxPduSize()`` (a flag) and writes
    version 0 for every object → :class:`CompatSNAssociation` encodes the object list whole.
30  ``GXDLMSSNCommandHandler.handleReadRequest`` calls ``server.transaction()`` (an attribute)
    after every answer, so gurux's error path appends a hardware-fault read-response to every
    frame; ``findSNObject`` gives float indexes and no object for an unknown base name (the
    access check then fails); one refused item gives every item of a list the error choice →
    :class:`CompatSNCommandHandler` answers ReadRequests itself with gurux's encoders;
    :func:`install` binds ``GXDLMSServer``'s name ``GXDLMSSNCommandHandler`` to it.
31  ``GXDLMS.appendMultipleSNBlocks`` sizes a data block by the reply buffer
    (``reply.available()``) instead of the data: an SN answer longer than the PDU goes out as
    one short garbled "last" block → :class:`CompatSNCommandHandler` sends the data blocks
    and serves block-number-access.
32  ``handleWriteRequest`` calls ``setValue`` for a base name that addresses a *method* (it
    writes attribute *n* instead of invoking method *n*) and ``target.getItem()``, which
    ``GXSNInfo`` lacks → :class:`CompatSNCommandHandler` invokes methods and writes
    attributes.
33  ``GXDLMS.getActionInfo`` lacks ``elif``s: the clock and the profile generic get the method
    table of the last branch (0x38/1, 0x28/2), so ``updateShortNames`` gives them too few base
    names and their last attributes overlap the next object → :func:`assign_short_names`.
34  (client) ``GXDLMS.readResponseDataBlockResult`` calls ``GXReplyData.setTotalCount()`` and
    ``getMoreData()``, which do not exist: no SN data block can be received →
    :func:`install` adds them.
35  (client) ``GXDLMSSNParameters`` never sets ``settings.command``, so the request for the
    next SN data block goes out with command 0 → :func:`next_block_request`.
36  (client) ``getApplicationAssociationRequest`` sends SN HLS pass 3 as a WriteRequest, whose
    answer cannot carry f(CtoS) → :func:`sn_hls_request` sends a ReadRequest with
    parameterised access (IEC 62056-53), built with gurux's ``_read``.
37  (client) ``handleReadResponse`` leaves a refused item out of an SN read-response list (and
    a later valid item clears the error): values and items no longer line up → the driver
    reads such a list again item by item (``batch.py``).
38  (client) an SN data block spread over several HDLC frames is never put together (the
    client sends an RR after the last segment, then a block request the meter drops) → over
    HDLC the driver proposes a PDU that fits one information field (``association.py``).
39  (client) ``GXDLMS.getSNPdu`` ends ciphering with ``assert not tmp``: no SN request can be
    ciphered → not worked around: the driver refuses ``referencing=sn`` with ``security``
    other than ``none``, the simulator a ciphered SN meter.
==  =========================================================================================

:func:`install` changes gurux classes of the process (defects 4, 10, 13, 14, 16, 17, 20, 24,
25, 30–32, 34): it only *adds* members the classes lack (defects 17, 24 and 30–32 rebind one
module name each to a subclass that behaves like the original for every call but the broken
ones), never replaces one, and is idempotent. gurux's client uses none of the additions but the
silenced ``print`` (14) and the reply accessors of SN data blocks (34). The tests of those
defects therefore run in a fresh interpreter (:func:`probe_unpatched`).
"""

from meterhub.plugins.drivers.dlms.gurux_compat._patches import (
    CompatLNCommandHandler,
    ShiftTolerantAesGcmParameter,
    install,
    probe_unpatched,
)
from meterhub.plugins.drivers.dlms.gurux_compat.aare import (
    add_responding_ap_title,
    cipher_initiate_response_in_suite,
)
from meterhub.plugins.drivers.dlms.gurux_compat.client import next_block_request, sn_hls_request
from meterhub.plugins.drivers.dlms.gurux_compat.hls import hls_reply, sha256_secret
from meterhub.plugins.drivers.dlms.gurux_compat.objects import CompatImageTransfer
from meterhub.plugins.drivers.dlms.gurux_compat.server import (
    AareBuffer,
    CompatAssociation,
    CompatServer,
    CompatServerReply,
    HdlcLimits,
)
from meterhub.plugins.drivers.dlms.gurux_compat.short_names import (
    CompatSNAssociation,
    CompatSNCommandHandler,
    assign_short_names,
    find_short_name,
)

__all__ = [
    "CompatServer",
    "CompatServerReply",
    "AareBuffer",
    "CompatAssociation",
    "CompatImageTransfer",
    "CompatLNCommandHandler",
    "HdlcLimits",
    "ShiftTolerantAesGcmParameter",
    "add_responding_ap_title",
    "cipher_initiate_response_in_suite",
    "CompatSNAssociation",
    "CompatSNCommandHandler",
    "assign_short_names",
    "find_short_name",
    "hls_reply",
    "next_block_request",
    "sn_hls_request",
    "sha256_secret",
    "install",
    "probe_unpatched",
]
