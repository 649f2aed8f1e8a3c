"""POP3 RETR throughput against a bare read-from-store loop, and the daemon's memory.

The daemon runs as ``mailarchive serve --only pop3`` on the data dir the import stage filled, its
account enabled with ``mailarchive pop3 enable --password-stdin`` (the operator's path). A client
in this process logs in and retrieves the whole window (``--pop3-messages``, 10,000 by default)
with pipelined RETRs, counting the bytes of each response; it never deletes, so the archive and
its position stay as they were. The yardstick, measured in the same run on the same data, is the
least any server must do: page through the store in arrival order, read each raw message and
check its SHA-256. The daemon's RSS is sampled throughout; at two archive sizes (the 10k and 100k
runs) it shows whether memory depends on the archive size (it should not: the window is bounded).

    python bench/run.py --sizes 10000,100000 --backends sqlite --skip parse,search,api,smtp,profile
"""

from __future__ import annotations

import hashlib
import socket
import subprocess
import time
from pathlib import Path

from bench.backends import Unavailable
from bench.importrun import mailarchive_command
from bench.rss import TreeMemorySampler, cpu_seconds
from bench.smtp_bench import free_port
from bench.webapi import _cli
from server.config import load_config
from server.store import open_store

PASSWORD = "bench-pop3-password"
PIPELINE = 32  # RETR commands in flight (the server advertises PIPELINING)
TARGET_MB_PER_S = 30
MB = 1e6


def bare_read_loop(env: dict[str, str], count: int) -> dict:
    """The yardstick: read ``count`` messages in arrival order from the store and hash each."""
    store = open_store(load_config(env=env))
    try:
        started, cpu, cursor, done, size = time.perf_counter(), time.process_time(), 0, 0, 0
        while done < count:
            page = store.scan_archived(cursor, min(500, count - done))
            if not page:
                break
            for message in page:
                raw = store.get_raw(message.sha256) or b""
                if hashlib.sha256(raw).hexdigest() != message.sha256:
                    raise RuntimeError(f"integrity check failed for {message.id}")
                size += len(raw)
            done += len(page)
            cursor = page[-1].archive_seq
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        store.close()
    return {"messages": done, "bytes": size, "seconds": round(seconds, 3), "mb_per_s": round(size / MB / seconds, 1),
            "cpu_seconds": round(cpu, 3), "mb_per_cpu_s": round(size / MB / cpu, 1)}


class Client:
    """A minimal pipelining POP3 client: poplib's line-by-line reading would be the bottleneck."""

    def __init__(self, port: int, *, source: str | None = None, timeout: float = 120) -> None:
        """``source``: a loopback address to connect from (bench/load.py: one per client, as from many hosts)."""
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 18)
        if not chunk:
            raise ConnectionError("the POP3 server closed the connection")
        self.buf += chunk

    def line(self) -> bytes:
        while (end := self.buf.find(b"\r\n")) < 0:
            self._fill()
        line = bytes(self.buf[:end])
        del self.buf[: end + 2]
        return line

    def command(self, text: str) -> bytes:
        self.sock.sendall(text.encode() + b"\r\n")
        reply = self.line()
        if not reply.startswith(b"+OK"):
            raise RuntimeError(f"{text.split()[0]}: {reply.decode(errors='replace')}")
        return reply

    def multiline_size(self) -> int:
        """Read one +OK status line and its body up to the terminator; the body's size in octets."""
        status = self.line()
        if not status.startswith(b"+OK"):
            raise RuntimeError(f"RETR: {status.decode(errors='replace')}")
        start = 0
        while True:
            if self.buf.startswith(b".\r\n"):
                del self.buf[:3]
                return 0
            end = self.buf.find(b"\r\n.\r\n", start)
            if end >= 0:
                del self.buf[: end + 5]
                return end + 2
            start = max(0, len(self.buf) - 4)
            self._fill()

    def retrieve_all(self, count: int) -> int:
        sent = received = total = 0
        while received < count:
            batch = []
            while sent < count and sent - received < PIPELINE:
                sent += 1
                batch.append(f"RETR {sent}\r\n")
            if batch:
                self.sock.sendall("".join(batch).encode())
            total += self.multiline_size()
            received += 1
        return total

    def close(self) -> None:
        self.sock.close()


def _wait_listening(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Unavailable(f"the POP3 daemon exited: {log.read_text()[-300:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(100).startswith(b"+OK"):
                    return
        except OSError:
            time.sleep(0.2)
    raise Unavailable("the POP3 daemon did not start listening within 60 s")


def pop3_bench(env: dict[str, str], count: int, log: Path) -> dict:
    _cli(["pop3", "enable", "--password-stdin"], env, stdin=PASSWORD + "\n")
    yardstick = bare_read_loop(env, count)
    port = free_port()
    env = {**env, "MAILARCHIVE_POP3_PORT": str(port), "MAILARCHIVE_POP3_WINDOW": str(count)}
    with log.open("w") as out:
        proc = subprocess.Popen([*mailarchive_command(), "serve", "--only", "pop3"], env=env, stdout=out, stderr=out)
        try:
            _wait_listening(port, proc, log)
            sampler = TreeMemorySampler(proc.pid, interval=0.1).start()
            client = Client(port)
            client.line()
            client.command("USER archive")
            started, login_cpu = time.perf_counter(), cpu_seconds(proc.pid)
            login = client.command(f"PASS {PASSWORD}")  # the password check, then the window is built
            opened, cpu_before = time.perf_counter(), cpu_seconds(proc.pid)
            octets = client.retrieve_all(int(login.split()[3]))
            finished, server_cpu = time.perf_counter(), cpu_seconds(proc.pid) - cpu_before
            client.command("QUIT")  # nothing deleted: the position stays
            client.close()
            memory = sampler.stop()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    seconds = finished - opened
    rate = octets / MB / seconds
    return {
        "messages": int(login.split()[3]), "bytes": octets, "login_and_window_s": round(opened - started, 3),
        "login_and_window_server_cpu_s": round(cpu_before - login_cpu, 2),
        "retr_seconds": round(seconds, 3), "retr_mb_per_s": round(rate, 1), "target_mb_per_s": TARGET_MB_PER_S,
        "server_cpu_seconds": round(server_cpu, 2), "retr_mb_per_server_cpu_s": round(octets / MB / server_cpu, 1),
        "yardstick": yardstick, "retr_vs_yardstick": round(rate / yardstick["mb_per_s"], 3),
        "server_peak_rss_mb": memory["peak_rss_mb"], "server_peak_anon_rss_mb": memory["peak_anon_rss_mb"],
    }  # fmt: skip
