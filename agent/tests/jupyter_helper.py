"""Drives a local Jupyter server for the heartbeat agent's integration tests, as a user would.

Run with the test virtualenv's Python (scripts/requirements-jupyter.txt). Every command prints one line
of result on stdout and exits non-zero, with the reason on stderr, when the server does not behave.

  start-kernel URL TOKEN KERNELSPEC          start a kernel over REST (no client connects); prints its id
  run-cell URL TOKEN KERNEL_ID CODE busy|idle
                                             execute CODE through the kernel's websocket; return once the
                                             server reports the kernel busy (the cell still runs) or once
                                             the cell has finished and the kernel is idle again
  new-terminal URL TOKEN                     open a terminal over REST; prints its name once its shell is quiet
  type URL TOKEN TERMINAL TEXT               type TEXT and Enter into the terminal through its websocket;
                                             return once the server's last_activity for it has moved
  state URL TOKEN                            print /api/kernels and /api/terminals (for diagnosis)
"""

import json
import sys
import time
import urllib.request
import uuid
from datetime import datetime, timezone

import websocket

TIMEOUT = 60
SESSION = uuid.uuid4().hex


def api(base, token, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base + path,
        method=method,
        data=data,
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
        text = answer.read()
    return json.loads(text) if text else None


def connect(base, token, path):
    url = "ws" + base[len("http"):] + path
    return websocket.create_connection(
        url, header=[f"Authorization: token {token}"], suppress_origin=True, timeout=TIMEOUT
    )


def wait_until(what, predicate, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    sys.exit(f"timed out after {timeout} s waiting for {what}")


def kernel_state(base, token, kernel_id):
    return api(base, token, "GET", f"/api/kernels/{kernel_id}")["execution_state"]


def start_kernel(base, token, spec):
    kernel = api(base, token, "POST", "/api/kernels", {"name": spec})
    print(kernel["id"])


def run_cell(base, token, kernel_id, code, until):
    ws = connect(base, token, f"/api/kernels/{kernel_id}/channels")
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({
        "channel": "shell",
        "header": {
            "msg_id": msg_id,
            "msg_type": "execute_request",
            "username": "test",
            "session": SESSION,
            "date": datetime.now(timezone.utc).isoformat(),
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True},
        "buffers": [],
    }))
    # The kernel's own status messages for our request: busy when it starts, idle when it is done.
    deadline = time.monotonic() + TIMEOUT
    wanted = "busy" if until == "busy" else "idle"
    while time.monotonic() < deadline:
        message = json.loads(ws.recv())
        if (message.get("channel") == "iopub" and message.get("msg_type") == "status"
                and message.get("parent_header", {}).get("msg_id") == msg_id
                and message["content"]["execution_state"] == wanted):
            break
    else:
        sys.exit(f"the kernel did not report {wanted} for the cell within {TIMEOUT} s")
    # … and the server's view, which is what the agent reads.
    wait_until(f"the server to report the kernel {wanted}",
               lambda: kernel_state(base, token, kernel_id) == wanted)
    ws.close()
    print(wanted)


def terminal_activity(base, token, name):
    for terminal in api(base, token, "GET", "/api/terminals"):
        if terminal["name"] == name:
            return terminal.get("last_activity")
    sys.exit(f"no terminal {name}")


def new_terminal(base, token):
    name = api(base, token, "POST", "/api/terminals")["name"]
    # The shell prints its prompt after the terminal is created: wait until last_activity stops moving.
    last, stable_since = terminal_activity(base, token, name), time.monotonic()
    while time.monotonic() - stable_since < 1.0:
        time.sleep(0.2)
        now = terminal_activity(base, token, name)
        if now != last:
            last, stable_since = now, time.monotonic()
    print(name)


def type_into(base, token, name, text):
    before = terminal_activity(base, token, name)
    ws = connect(base, token, f"/terminals/websocket/{name}")
    ws.send(json.dumps(["stdin", text + "\r"]))
    marker = text.split()[-1]
    deadline = time.monotonic() + TIMEOUT
    seen = ""
    while marker not in seen and time.monotonic() < deadline:
        message = json.loads(ws.recv())
        if message[0] == "stdout":
            seen += message[1]
    if marker not in seen:
        sys.exit(f"the terminal did not echo {marker!r} within {TIMEOUT} s")
    wait_until("the terminal's last_activity to move",
               lambda: terminal_activity(base, token, name) != before)
    ws.close()
    print(terminal_activity(base, token, name))


def state(base, token):
    print(json.dumps({"kernels": api(base, token, "GET", "/api/kernels"),
                      "terminals": api(base, token, "GET", "/api/terminals")}))


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    command, base, token, rest = argv[0], argv[1].rstrip("/"), argv[2], argv[3:]
    commands = {
        "start-kernel": (start_kernel, 1),
        "run-cell": (run_cell, 3),
        "new-terminal": (new_terminal, 0),
        "type": (type_into, 2),
        "state": (state, 0),
    }
    if command not in commands or len(rest) != commands[command][1]:
        sys.exit(__doc__)
    commands[command][0](base, token, *rest)


if __name__ == "__main__":
    main(sys.argv[1:])
