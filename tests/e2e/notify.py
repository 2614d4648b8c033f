#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""systemd readiness (Type=notify): `osa serve` with $NOTIFY_SOCKET set sends
READY=1 once it serves, RELOADING=1 then READY=1 around a SIGHUP reload, and
STOPPING=1 on SIGTERM, after which it exits 0.

    notify.py OSA SRC WORK
"""
import os
import shutil
import signal
import socket
import sys
import time
import urllib.request

import osaserve

osa, src, work = sys.argv[1:4]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
sock_path = os.path.join(work, "notify.sock")
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sock_path)
s.settimeout(60)

port = osaserve.free_port()
cfg = osaserve.default_config(src, work, port)
p = osaserve.serve(osa, cfg, work, env=dict(os.environ,
                                            NOTIFY_SOCKET=sock_path))
fails = []


def expect(word):
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            break
        if word in msg.split("\n"):
            return msg
    fails.append("no %s notification" % word)
    return ""


try:
    expect("READY=1")
    # Ready means serving: /health answers now.
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/health" % port,
                                    timeout=10) as r:
            if r.status != 200:
                fails.append("READY=1 but /health is %d" % r.status)
    except Exception as e:  # noqa: BLE001
        fails.append("READY=1 but /health failed: %s" % e)
    p.send_signal(signal.SIGHUP)
    expect("RELOADING=1")
    expect("READY=1")
    p.send_signal(signal.SIGTERM)
    expect("STOPPING=1")
    rc = p.wait(timeout=120)
    if rc != 0:
        fails.append("exit status %d after SIGTERM" % rc)
finally:
    if p.poll() is None:
        p.kill()
        p.wait()
# Without NOTIFY_SOCKET nothing is sent and nothing fails: the other tests
# run serve that way.
for f in fails:
    print("FAIL:", f)
if fails:
    print(open(os.path.join(work, "serve.log")).read()[-3000:])
    sys.exit(1)
print("notify: READY, RELOADING, READY, STOPPING received; exit 0")
