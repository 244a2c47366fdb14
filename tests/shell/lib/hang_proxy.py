#!/usr/bin/python3
"""A misbehaving git remote for tests/shell/sync_hang.sh.

hang_proxy.py PORTFILE MODE [UPSTREAM_PORT [BYTES]]
Listens on a free loopback port (written to PORTFILE) and, per connection:
  silent      accepts, reads what comes, never answers;
  fetch-hang  relays to 127.0.0.1:UPSTREAM_PORT, but once the client has sent
              "done" (the end of a fetch negotiation) passes on only BYTES more
              of the reply, then goes quiet with the connection left open;
  fetch-cut   the same, then closes the connection;
  push-hang   relays, but once the client's pack has started ("PACK") passes
              on only BYTES of it, then stops reading (connection left open);
  push-cut    the same, then closes the connection.
Runs until killed.
"""
import socket
import sys
import os
import threading

portfile, mode = sys.argv[1], sys.argv[2]
upstream = int(sys.argv[3]) if len(sys.argv) > 3 else 0
limit = int(sys.argv[4]) if len(sys.argv) > 4 else 0
held = []  # sockets kept open (never answered)


def hold_forever(*socks):
    held.extend(socks)


def serve(client):
    if mode == "silent":
        hold_forever(client)
        try:
            while client.recv(65536):
                pass
        except OSError:
            pass
        return
    up = socket.create_connection(("127.0.0.1", upstream))
    state = {"armed": False, "passed": 0, "stopped": False}
    lock = threading.Lock()

    def stop():
        state["stopped"] = True
        if mode.endswith("-cut"):
            for s in (client, up):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
        else:
            hold_forever(client, up)

    def to_server():
        seen = b""
        try:
            while not state["stopped"]:
                d = client.recv(65536)
                if not d:
                    up.shutdown(socket.SHUT_WR)
                    return
                with lock:
                    if mode.startswith("fetch"):
                        seen = (seen + d)[-16:]
                        if b"done" in seen:
                            state["armed"] = True
                    elif mode.startswith("push"):
                        if not state["armed"]:
                            i = d.find(b"PACK")
                            if i >= 0:  # what comes before the pack is not counted
                                state["armed"] = True
                                state["passed"] = -i
                        if state["armed"]:
                            state["passed"] += len(d)
                            if state["passed"] >= limit:
                                up.sendall(d[:len(d) - (state["passed"] - limit)])
                                stop()
                                return
                up.sendall(d)
        except OSError:
            pass

    def to_client():
        try:
            while not state["stopped"]:
                d = up.recv(65536)
                if not d:
                    client.shutdown(socket.SHUT_WR)
                    return
                with lock:
                    if mode.startswith("fetch") and state["armed"]:
                        room = limit - state["passed"]
                        if len(d) >= room:
                            client.sendall(d[:room])
                            stop()
                            return
                        state["passed"] += len(d)
                client.sendall(d)
        except OSError:
            pass

    threading.Thread(target=to_server, daemon=True).start()
    threading.Thread(target=to_client, daemon=True).start()


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(16)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % srv.getsockname()[1])
os.rename(portfile + ".tmp", portfile)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
