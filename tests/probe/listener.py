"""A tiny service for the namespace tests: accepts (and closes) TCP connections and echoes UDP.

Run inside a host namespace: ``python listener.py --tcp 22,8443 --udp 53``; prints ``ready``
once every port is bound.
"""

from __future__ import annotations

import argparse
import selectors
import socket


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--tcp", default="")
    p.add_argument("--udp", default="")
    args = p.parse_args()
    sel = selectors.DefaultSelector()
    for port in filter(None, args.tcp.split(",")):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", int(port)))
        s.listen(512)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, "tcp")
    for port in filter(None, args.udp.split(",")):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", int(port)))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, "udp")
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                if key.data == "tcp":
                    conn, _ = sock.accept()
                    conn.close()
                else:
                    data, peer = sock.recvfrom(2048)
                    sock.sendto(data or b"pong", peer)
            except OSError:
                pass


if __name__ == "__main__":
    main()
