"""M-Bus drivers (EN 13757): wired M-Bus (``mbus``) and wireless M-Bus / OMS (``wmbus``).

Both entry points live in this one package because they share the application layer: the
record decoding (pymbusparser) and the mapping of records to OBIS channels (:mod:`.obis`).
Wired frames and the bus are in :mod:`.frames`, :mod:`.wired` and :mod:`.search`; the wireless
link layer, OMS security and the bulk decoder in :mod:`.wireless`; the simulators in
:mod:`.simulator`.
"""
