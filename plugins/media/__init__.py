"""Communication media: TCP sockets, serial lines (pyserial) and AT-command modems.

Each medium is its own entry point in ``meterhub.media`` (features ``medium:tcp``,
``medium:serial``, ``medium:modem``). :mod:`.stream` holds helpers drivers use on any medium
(read exactly *n* bytes, read up to a terminator) and :mod:`.modem_emulator` a Hayes modem on a
pseudo-terminal for tests and demos.
"""
