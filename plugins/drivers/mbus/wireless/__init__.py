"""Wireless M-Bus (EN 13757-4) and OMS: link layer, security, bulk decoding, receivers, keys.

:mod:`.link` checks and removes the CRCs of frame formats A and B; :mod:`.security` decrypts
OMS security modes 5 and 7 with cached per-meter key schedules; :mod:`.telegram` opens one
telegram (addresses, transport and authentication layers, replay checks); :mod:`.decoder` maps
many telegrams at once to columns; :mod:`.receiver` reads telegrams from a TCP/UDP feed, a
serial stick or a file; :mod:`.keys` imports manufacturers' key files into the credential
store; :mod:`.driver` is the ``wmbus`` driver.
"""
