# SPDX-License-Identifier: MIT
"""What the Python end-to-end tests share: a free loopback port, the
built-in default configuration moved to a work folder and port, and an
`osa serve` started on it and waited for."""
import os
import socket
import subprocess
import time
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def default_config(src, work, port):
    """configs/examples/default.cfg with its data in WORK/data and HTTP on
    PORT, written to WORK/osa.cfg; returns that path."""
    with open(os.path.join(src, "configs/examples/default.cfg")) as f:
        text = f.read()
    text = text.replace('data_dir = "./data";', 'data_dir = "%s/data";' % work)
    text = text.replace("http://127.0.0.1:8080", "http://127.0.0.1:%d" % port)
    path = os.path.join(work, "osa.cfg")
    with open(path, "w") as f:
        f.write(text)
    return path


def serve(osa, cfg, work, env=None):
    """Start `osa -c CFG serve`, its output in WORK/serve.log."""
    log = open(os.path.join(work, "serve.log"), "w")
    return subprocess.Popen([osa, "-c", cfg, "serve"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)


def wait_ready(base, seconds=30):
    """Poll BASE/health until it answers 200; False when it never did."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(base + "/health", timeout=5) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False
