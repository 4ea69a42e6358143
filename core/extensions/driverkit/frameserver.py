"""A server for simulated devices: TCP listeners and pseudo-terminals, one thread per session.

A simulator hands :class:`FrameServer` a *session function* per endpoint; the server calls it
with a :class:`~meterhub.extensions.driverkit.channel.ByteChannel` for every accepted TCP
connection (the connection closes when the function returns) or once for a pty (the serial
port, which stays open). Session functions loop on ``channel.read`` and end when it raises
:class:`~meterhub.extensions.driverkit.channel.ChannelClosed`, which it does when the client
leaves or :meth:`FrameServer.stop` runs. Threads are daemons and are joined on stop, so a test
never leaves a thread behind; an exception in a session is logged and ends that session only.
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable

from meterhub.extensions.driverkit.channel import ByteChannel, ChannelClosed
from meterhub.extensions.driverkit.pty import PtyPair

__all__ = ["FrameServer", "SessionFunction", "SocketChannel"]

log = logging.getLogger(__name__)

#: What a simulator gives the server per endpoint: serve one session over a channel.
SessionFunction = Callable[[ByteChannel], None]


class SocketChannel:
    """A :class:`ByteChannel` over an accepted TCP connection."""

    def __init__(self, connection: socket.socket) -> None:
        self.connection = connection
        self.closed = threading.Event()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(connection, selectors.EVENT_READ)

    def read(self, size: int, timeout: float) -> bytes:
        """Up to ``size`` bytes within ``timeout``; :class:`ChannelClosed` when the client left."""
        if self.closed.is_set():
            raise ChannelClosed("connection closed")
        try:
            if not self._selector.select(max(timeout, 0.0)):
                return b""
            data = self.connection.recv(size)
        except BlockingIOError:
            return b""
        except (OSError, ValueError) as exc:
            raise ChannelClosed(str(exc)) from exc
        if not data:
            raise ChannelClosed("the client closed the connection")
        return data

    def write(self, data: bytes) -> None:
        """Send all of ``data`` (waiting while the client's window is full)."""
        view = memoryview(data)
        while view:
            if self.closed.is_set():
                raise ChannelClosed("connection closed")
            try:
                view = view[self.connection.send(view) :]
            except BlockingIOError:
                time.sleep(0.005)
            except OSError as exc:
                raise ChannelClosed(str(exc)) from exc

    def discard_input(self) -> None:
        """Drop what the client sent and was not read yet."""
        try:
            while self.connection.recv(65536):
                pass
        except (BlockingIOError, OSError):
            pass

    def close(self) -> None:
        """Shut the connection down; idempotent."""
        if self.closed.is_set():
            return
        self.closed.set()
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.connection.close()
        self._selector.close()


class FrameServer:
    """TCP listeners and ptys serving simulated devices until :meth:`stop`.

    :param name: the prefix of the serving threads' names (``dlms-sim``).
    """

    def __init__(self, name: str = "simulator") -> None:
        self.name = name
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._listeners: list[socket.socket] = []
        self._channels: set[SocketChannel] = set()
        self._ptys: list[PtyPair] = []
        self._threads: list[threading.Thread] = []
        self._accepting: threading.Thread | None = None

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` has been called."""
        return self._stop.is_set()

    def listen(self, host: str, port: int, session: SessionFunction) -> tuple[str, int]:
        """Accept TCP connections on ``host:port`` (0: a free port); return the bound address.

        Each connection runs ``session`` in its own thread and is closed when it returns.
        """
        listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((host, port))
            listener.listen(16)
            listener.setblocking(False)
        except OSError:
            listener.close()
            raise
        with self._lock:
            self._listeners.append(listener)
            self._selector.register(listener, selectors.EVENT_READ, session)
            start_accepting = self._accepting is None
            if start_accepting:
                self._accepting = threading.current_thread()  # claimed; replaced below
        if start_accepting:
            self._accepting = self._spawn(self._accept_loop)
        bound = listener.getsockname()
        return bound[0], bound[1]

    def serve_pty(self, session: SessionFunction) -> str:
        """Open a pty, run ``session`` on its device side; return the path clients open."""
        pair = PtyPair()
        with self._lock:
            self._ptys.append(pair)
        self._spawn(self._run, session, pair)
        return pair.path

    def pty(self, path: str) -> PtyPair:
        """The pair serving ``path`` (for a simulator that must reach its own pty)."""
        for pair in self._ptys:
            if pair.path == path:
                return pair
        raise KeyError(path)

    def _spawn(self, target: Callable[..., None], *args: object) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, daemon=True, name=self.name)
        thread.start()
        with self._lock:
            self._threads.append(thread)
        return thread

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                ready = self._selector.select(timeout=0.1)
            except (OSError, ValueError):
                return
            for key, _ in ready:
                listener = key.fileobj
                assert isinstance(listener, socket.socket)
                try:
                    connection, _ = listener.accept()
                except OSError:
                    continue
                channel = SocketChannel(connection)
                with self._lock:
                    if self._stop.is_set():
                        channel.close()
                        return
                    self._channels.add(channel)
                self._spawn(self._run, key.data, channel)

    def _run(self, session: SessionFunction, channel: SocketChannel | PtyPair) -> None:
        try:
            session(channel)
        except ChannelClosed:
            pass
        except Exception:
            if not self._stop.is_set():
                log.exception("%s: a simulated session failed", self.name)
        finally:
            if isinstance(channel, SocketChannel):
                channel.close()
                with self._lock:
                    self._channels.discard(channel)

    def stop(self) -> None:
        """Close every listener, connection and pty and join the threads; idempotent."""
        if self._stop.is_set():
            return
        self._stop.set()
        with self._lock:
            channels = list(self._channels)
            ptys = list(self._ptys)
            threads = list(self._threads)
        for channel in channels:
            channel.close()
        for pair in ptys:
            pair.close()
        for thread in threads:
            thread.join(timeout=3)
        for listener in self._listeners:
            listener.close()
        self._selector.close()
