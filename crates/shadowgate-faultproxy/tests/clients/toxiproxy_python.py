"""Drives the fault proxy with the unmodified `toxiproxy-python` client from PyPI.

Usage: toxiproxy_python.py API_PORT UPSTREAM_ADDRESS

UPSTREAM_ADDRESS is an echo server. The script creates proxies, lists them, adds, reads and
removes toxics, takes a proxy down and up, and checks each step's effect on real traffic.
It exits non-zero with a message on the first failure.
"""

import socket
import sys
import time

from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists


# A round trip without toxics takes well under a millisecond; this bound only has to separate it
# from the toxics' hundreds of milliseconds on a loaded machine.
FAST_SECONDS = 0.2


def round_trip(address, message=b"ping"):
    """Sends a message through a new connection and returns the seconds until it echoes back."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        started = time.monotonic()
        connection.sendall(message)
        received = b""
        while len(received) < len(message):
            chunk = connection.recv(4096)
            if not chunk:
                raise AssertionError("connection closed before the echo arrived")
            received += chunk
        elapsed = time.monotonic() - started
    assert received == message, received
    return elapsed


def refuses(address):
    """Whether nothing listens at the address."""
    host, port = address.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def main():
    api_port, upstream = int(sys.argv[1]), sys.argv[2]
    server = Toxiproxy()
    server.update_api_consumer("127.0.0.1", api_port)

    assert server.running(), "the API port does not accept connections"
    assert b"version" in server.version(), server.version()
    assert server.proxies() == {}, server.proxies()

    proxy = server.create(upstream=upstream, name="python_echo")
    assert proxy.enabled is True
    assert proxy.upstream == upstream
    assert not proxy.listen.endswith(":0"), proxy.listen
    assert round_trip(proxy.listen) < FAST_SECONDS
    print("created", proxy.name, "listening on", proxy.listen)

    try:
        server.create(upstream=upstream, name="python_echo")
        raise AssertionError("creating a proxy twice must fail")
    except ProxyExists:
        pass

    listed = server.proxies()
    assert list(listed) == ["python_echo"], listed
    assert server.get_proxy("python_echo").listen == proxy.listen

    proxy.add_toxic(type="latency", attributes={"latency": 500})
    proxy.add_toxic(name="cut_upstream", type="limit_data", stream="upstream", toxicity=1.0,
                    attributes={"bytes": 1000000})
    toxics = proxy.toxics()
    assert sorted(toxics) == ["cut_upstream", "latency_downstream"], toxics
    latency = proxy.get_toxic("latency_downstream")
    assert latency.attributes == {"latency": 500, "jitter": 0}, latency.attributes
    assert latency.stream == "downstream" and latency.toxicity == 1.0
    delayed = round_trip(proxy.listen)
    assert 0.495 <= delayed < 3.0, delayed
    print("latency toxic delays the echo by %.3f s" % delayed)

    try:
        proxy.add_toxic(type="latency", stream="sideways")
        raise AssertionError("an invalid stream must be refused")
    except InvalidToxic as error:
        assert b"stream was invalid" in error.args[0], error.args

    assert proxy.destroy_toxic("latency_downstream")
    assert round_trip(proxy.listen) < FAST_SECONDS
    assert proxy.get_toxic("latency_downstream") is None
    print("removed the latency toxic")

    with proxy.down():
        assert refuses(proxy.listen), "a disabled proxy must not listen"
        assert server.get_proxy("python_echo").enabled is False
    assert round_trip(proxy.listen) < FAST_SECONDS
    print("took the proxy down and up again")

    populated = server.populate([
        {"name": "python_echo", "upstream": upstream, "listen": proxy.listen},
        {"name": "python_second", "upstream": upstream, "listen": "127.0.0.1:0"},
    ])
    assert [p.name for p in populated] == ["python_second"], populated
    assert round_trip(populated[0].listen) < FAST_SECONDS

    proxy.add_toxic(type="timeout", attributes={"timeout": 0})
    assert server.reset()
    assert proxy.toxics() == {}
    assert round_trip(proxy.listen) < FAST_SECONDS
    print("reset removed every toxic")

    try:
        APIConsumer.get("/proxies/missing")
        raise AssertionError("a missing proxy must be 404")
    except NotFound:
        pass

    server.destroy_all()
    assert server.proxies() == {}
    assert refuses(proxy.listen)
    print("python client: all checks passed")


if __name__ == "__main__":
    main()
