"""HTTP the way apk's libfetch does it (apk-tools libfetch/http.c):

* http URLs go through $HTTP_PROXY, else $http_proxy, as an absolute-form request (`GET http://host/path`);
  https URLs through $HTTPS_PROXY, else $https_proxy, as `CONNECT host:port` and then TLS inside the tunnel.
  $no_proxy / $NO_PROXY exempts hosts. A proxy URL without a port means port 3128.
* Request headers in libfetch's order: [Cache-Control: no-cache] [If-Modified-Since] Host
  [Proxy-Authorization] User-Agent. Host carries the port only when it is not the scheme's default.
* A connection is reused only when the server answered `Connection: keep-alive`.
"""
from __future__ import annotations

import base64
import email.utils
import http.client
import os
import socket
import ssl
import urllib.parse
from dataclasses import dataclass
from typing import Callable

USER_AGENT = "apk-tools/2.14 (Tower lab stand-in)"
DEFAULT_PORTS = {"http": 80, "https": 443}
PROXY_DEFAULT_PORT = 3128
TIMEOUT = 60.0


class FetchError(Exception):
    """A transfer failed; str() is the apk-style reason ("No such file or directory", "DNS lookup error" …)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.detail = detail


@dataclass
class Response:
    status: int  # 200 or 304
    body: bytes


def _env(*names: str) -> str:
    for n in names:
        v = os.environ.get(n)
        if v is not None:
            return v
    return ""


def _no_proxy(host: str) -> bool:
    for item in _env("no_proxy", "NO_PROXY").split(","):
        item = item.strip().lower().lstrip(".")
        if item == "*" or (item and (host.lower() == item or host.lower().endswith("." + item))):
            return True
    return False


def proxy_for(url: urllib.parse.SplitResult) -> urllib.parse.SplitResult | None:
    if _no_proxy(url.hostname or ""):
        return None
    p = _env("HTTPS_PROXY", "https_proxy") if url.scheme == "https" else _env("HTTP_PROXY", "http_proxy")
    if not p:
        return None
    if "://" not in p:
        p = "http://" + p
    purl = urllib.parse.urlsplit(p)
    return purl if purl.scheme == "http" else None  # libfetch only speaks plain HTTP to proxies


class _SocketConnection(http.client.HTTPConnection):
    """An HTTPConnection over a socket we opened ourselves (direct, to a proxy, or a TLS tunnel)."""

    def __init__(self, host: str, port: int, make_socket: Callable[[], socket.socket]) -> None:
        super().__init__(host, port, timeout=TIMEOUT)
        self._make_socket = make_socket

    def connect(self) -> None:
        self.sock = self._make_socket()


def _connect(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise FetchError("DNS lookup error", f"{host}: {e}") from None
    last: OSError | None = None
    for family, stype, proto, _, addr in infos:
        s = socket.socket(family, stype, proto)
        s.settimeout(TIMEOUT)
        try:
            s.connect(addr)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return s
        except OSError as e:
            s.close()
            last = e
    raise FetchError("network connection error", f"{host}:{port}: {last}")


def _read_head(sock: socket.socket) -> bytes:
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise FetchError("network connection error", "proxy closed the connection during CONNECT")
        buf += chunk
        if len(buf) > 65536:
            raise FetchError("remote server returned error", "proxy response header too long")
    return buf


def _tunnel(proxy: urllib.parse.SplitResult, host: str, port: int, auth: str | None) -> socket.socket:
    s = _connect(proxy.hostname or "", proxy.port or PROXY_DEFAULT_PORT)
    lines = [f"CONNECT {host}:{port} HTTP/1.1", f"Host: {host}:{port}"]
    if auth:
        lines.append(f"Proxy-Authorization: {auth}")
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = _read_head(s)
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status.split()
    if len(parts) < 2 or parts[1] != "200":
        s.close()
        raise FetchError("remote server returned error", f"proxy refused CONNECT {host}:{port}: {status}")
    ctx = ssl.create_default_context()
    return ctx.wrap_socket(s, server_hostname=host)


def _basic(url: urllib.parse.SplitResult) -> str | None:
    if not url.username and not url.password:
        return None
    raw = f"{urllib.parse.unquote(url.username or '')}:{urllib.parse.unquote(url.password or '')}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


class Fetcher:
    def __init__(self) -> None:
        self._conns: dict[tuple, http.client.HTTPConnection] = {}

    def _connection(self, key: tuple, make: Callable[[], http.client.HTTPConnection]) -> http.client.HTTPConnection:
        conn = self._conns.get(key)
        if conn is None:
            conn = make()
            self._conns[key] = conn
        return conn

    def get(self, url_text: str, if_modified_since: float | None = None, no_cache: bool = False,
            on_progress: Callable[[int], None] | None = None) -> Response:
        url = urllib.parse.urlsplit(url_text)
        if url.scheme == "file" or url_text.startswith("/"):
            # a local repository (apk reads these directly, as it does their index)
            try:
                with open(url.path, "rb") as f:
                    return Response(200, f.read())
            except OSError as e:
                raise FetchError(e.strerror or "I/O error", url.path) from None
        if url.scheme not in DEFAULT_PORTS or not url.hostname:
            raise FetchError("Protocol not supported", url_text)
        host, port = url.hostname, url.port or DEFAULT_PORTS[url.scheme]
        host_header = host if port == DEFAULT_PORTS[url.scheme] else f"{host}:{port}"
        doc = url.path or "/"
        if url.query:
            doc += "?" + url.query
        proxy = proxy_for(url)
        proxy_auth = _basic(proxy) if proxy else None
        if proxy and url.scheme == "http":
            key: tuple = ("proxy", proxy.hostname, proxy.port or PROXY_DEFAULT_PORT)
            target = f"http://{host_header}{doc}"
            make_sock = lambda: _connect(proxy.hostname or "", proxy.port or PROXY_DEFAULT_PORT)  # noqa: E731
        elif proxy:
            key = ("tunnel", proxy.hostname, proxy.port, host, port)
            target, proxy_auth_hdr = doc, proxy_auth
            make_sock = lambda: _tunnel(proxy, host, port, proxy_auth_hdr)  # noqa: E731
            proxy_auth = None  # sent on the CONNECT, not on the tunneled request
        elif url.scheme == "https":
            key = ("https", host, port)
            target = doc
            make_sock = lambda: ssl.create_default_context().wrap_socket(_connect(host, port), server_hostname=host)  # noqa: E731
        else:
            key = ("http", host, port)
            target = doc
            make_sock = lambda: _connect(host, port)  # noqa: E731

        for attempt in (1, 2):  # a reused keep-alive connection may have been closed by the server meanwhile
            fresh = key not in self._conns
            conn = self._connection(key, lambda: _SocketConnection(host, port, make_sock))
            try:
                conn.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
                if no_cache:
                    conn.putheader("Cache-Control", "no-cache")
                if if_modified_since:
                    conn.putheader("If-Modified-Since", email.utils.formatdate(if_modified_since, usegmt=True))
                conn.putheader("Host", host_header)
                if proxy_auth:
                    conn.putheader("Proxy-Authorization", proxy_auth)
                conn.putheader("User-Agent", os.environ.get("HTTP_USER_AGENT") or USER_AGENT)
                conn.endheaders()
                resp = conn.getresponse()
                body = self._read(resp, on_progress)
            except FetchError:
                self._drop(key)
                raise
            except (http.client.HTTPException, OSError) as e:
                self._drop(key)
                if attempt == 1 and not fresh:
                    continue
                if isinstance(e, socket.timeout):
                    raise FetchError("operation timed out", url_text) from None
                raise FetchError("network connection error", f"{url_text}: {e}") from None
            if (resp.getheader("Connection") or "").lower() != "keep-alive":
                self._drop(key)
            if resp.status in (200, 304):
                return Response(resp.status, body)
            reason = {404: "No such file or directory", 403: "Permission denied", 407: "Permission denied"}
            raise FetchError(reason.get(resp.status, "remote server returned error"), f"HTTP {resp.status} for {url_text}")
        raise FetchError("network connection error", url_text)

    def _read(self, resp: http.client.HTTPResponse, on_progress: Callable[[int], None] | None) -> bytes:
        chunks: list[bytes] = []
        got = 0
        while True:
            chunk = resp.read(65536)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
            if on_progress:
                on_progress(got)
        length = resp.getheader("Content-Length")
        if length is not None and resp.status == 200 and got != int(length):
            raise FetchError("network connection error", f"short read: {got} of {length} bytes")
        return b"".join(chunks)

    def _drop(self, key: tuple) -> None:
        conn = self._conns.pop(key, None)
        if conn:
            conn.close()

    def close(self) -> None:
        for key in list(self._conns):
            self._drop(key)
