"""SMTP journal benchmark: messages/s over N concurrent connections and the latency of the ``250``.

The receiver runs as its own process (``mailarchive serve --only smtp``) on a fresh data dir with the
embedded SQLite store and archiving enabled, so the spool drainer ingests while mail arrives, as in
production. The clients are asyncio connections in this process, each sending one transaction after
another (EHLO once, then MAIL/RCPT/DATA). Reported: throughput, the 250 latency (from the final
``<CRLF>.<CRLF>`` to the reply) and the whole transaction's latency, and how long the store needed to
catch up after the last 250.

CPU is read from ``/proc`` for the receiver and the drainer (its child), per thread name, so a run on a
busy machine still says what a message costs (``cpu_ms_per_msg``). The yardstick, run in the same
process before the receiver starts, is the bare durable write the ``250`` waits for: the same
messages written by as many threads as there are connections, each file written, fsynced, renamed
into place and its directory fsynced (no SMTP, no parsing, no store). ``ratio_to_yardstick`` is the
receiver's rate over that loop's.

    python bench/smtp_bench.py --messages 3000 --connections 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
TARGET_MSG_PER_S = 300


def _wire(raw: bytes) -> tuple[str, str, bytes]:
    """(MAIL FROM, RCPT TO, dot-stuffed CRLF data with terminator) from a generated message."""
    sender = re.search(rb"^Return-Path: <([^>]*)>", raw, re.M)
    rcpt = re.search(rb"^Delivered-To: (\S+)", raw, re.M)
    data = re.sub(rb"\r?\n", b"\r\n", raw)
    data = re.sub(rb"(?m)^\.", b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return (
        sender.group(1).decode() if sender else "",
        rcpt.group(1).decode() if rcpt else "archive@corp.example",
        data + b".\r\n",
    )


def make_messages(count: int, seed: int = 7) -> list[tuple[str, str, bytes]]:
    from server.synthetic import MailGenerator, build_directory

    generator = MailGenerator(build_directory(seed), seed=seed, stream=0, first=0, count=count, total=count)
    return [_wire(raw) for raw in generator]


async def _reply(reader: asyncio.StreamReader) -> bytes:
    while True:
        line = await reader.readline()
        if line[3:4] != b"-":
            if not line.startswith((b"2", b"3")):
                raise RuntimeError(f"server replied {line!r}")
            return line


async def _connection(port: int, queue: asyncio.Queue, latencies: list[float], transactions: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await _reply(reader)
    writer.write(b"EHLO bench.client\r\n")
    await _reply(reader)
    while not queue.empty():
        sender, rcpt, data = queue.get_nowait()
        began = time.perf_counter()
        for command in (f"MAIL FROM:<{sender}>", f"RCPT TO:<{rcpt}>", "DATA"):
            writer.write(command.encode() + b"\r\n")
            await _reply(reader)
        writer.write(data)
        sent = time.perf_counter()
        await _reply(reader)
        done = time.perf_counter()
        latencies.append(done - sent)
        transactions.append(done - began)
    writer.write(b"QUIT\r\n")
    await _reply(reader)
    writer.close()


async def _drive(port: int, messages: list[tuple[str, str, bytes]], connections: int) -> tuple[float, list, list]:
    queue: asyncio.Queue = asyncio.Queue()
    for item in messages:
        queue.put_nowait(item)
    latencies: list[float] = []
    transactions: list[float] = []
    began = time.perf_counter()
    await asyncio.gather(*(_connection(port, queue, latencies, transactions) for _ in range(connections)))
    return time.perf_counter() - began, latencies, transactions


def _percentiles(values: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": cuts[49] * 1000, "p95": cuts[94] * 1000, "p99": cuts[98] * 1000, "max": max(values) * 1000}


def free_port() -> int:
    """A loopback port nothing listens on now (also used by the web API bench)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_receiver(data_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "MAILARCHIVE_DATA_DIR": str(data_dir), "MAILARCHIVE_STORE": "sqlite",
           "MAILARCHIVE_SMTP_PORT": str(port), "MAILARCHIVE_CONFIG": "none",
           "MAILARCHIVE_INTERNAL_DOMAINS": "corp.example"}
    proc = subprocess.Popen([sys.executable, "-m", "server", "serve", "--only", "smtp"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(100).startswith(b"220"):
                    return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"receiver exited: {proc.stderr.read().decode()[-2000:]}") from None
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("receiver did not start within 30 s")


def _archived(data_dir: Path) -> int:
    from server.config import load_config
    from server.store import open_store

    store = open_store(load_config(env={"MAILARCHIVE_CONFIG": "none"}, data_dir=data_dir))
    try:
        return store.count()
    finally:
        store.close()


def _enable_archiving(data_dir: Path) -> None:
    from server.archiving import set_enabled
    from server.config import load_config
    from server.store import open_store

    data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(load_config(env={"MAILARCHIVE_CONFIG": "none"}, data_dir=data_dir))
    try:
        set_enabled(store, True, "bench")
    finally:
        store.close()


def _wait_drained(spool_new: Path, timeout: float = 600) -> float:
    began = time.perf_counter()
    while any(spool_new.iterdir()) and time.perf_counter() - began < timeout:
        time.sleep(0.1)
    return time.perf_counter() - began


def durable_write_loop(wire: list[tuple[str, str, bytes]], threads: int, directory: Path) -> dict:
    """The yardstick: each message written, fsynced, renamed and its directory fsynced, ``threads`` at once."""
    tmp, new = directory / "tmp", directory / "new"
    tmp.mkdir(parents=True)
    new.mkdir()
    queue = list(enumerate(wire))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                number, (_, _, data) = queue.pop()
            name = f"{number:08d}.msg"
            fd = os.open(tmp / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp / name, new / name)
            dir_fd = os.open(new, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    began, cpu_began = time.perf_counter(), time.process_time()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu_began
    for path in new.iterdir():
        path.unlink()
    return {"what": f"write + fsync + rename + directory fsync per message, {threads} threads, no SMTP",
            "seconds": round(seconds, 3), "messages_per_s": round(len(wire) / seconds, 1),
            "cpu_ms_per_msg": round(cpu * 1000 / len(wire), 3)}


def _thread_cpu(pid: int) -> Counter:
    """CPU seconds so far of ``pid``'s tree per process role, main thread or other threads, user or system."""
    from bench.rss import tree

    ticks = os.sysconf("SC_CLK_TCK")
    totals: Counter = Counter()
    for number, member in enumerate(tree(pid)):
        role = "receiver" if number == 0 else "drainer"
        for stat in Path(f"/proc/{member}/task").glob("*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue
            thread = "main" if stat.parent.name == str(member) else "threads"
            fields = text.rsplit(")", 1)[1].split()
            totals[f"{role}:{thread}:user"] += int(fields[11]) / ticks
            totals[f"{role}:{thread}:system"] += int(fields[12]) / ticks
    return totals


def _cpu_figures(before: Counter, sent: Counter, drained: Counter, messages: int) -> dict:
    """ms per message: the receiver while mail arrives, the drainer over arrival and catch-up."""
    def role(counter: Counter, name: str) -> float:
        return sum(v for k, v in counter.items() if k.startswith(name + ":"))

    receiver = role(sent, "receiver") - role(before, "receiver")
    drainer = role(drained, "drainer") - role(before, "drainer")
    threads = {k: round((drained[k] - before.get(k, 0)) * 1000 / messages, 3) for k in drained}
    return {"receiver_ms_per_msg": round(receiver * 1000 / messages, 3),
            "drainer_ms_per_msg": round(drainer * 1000 / messages, 3),
            "total_ms_per_msg": round((receiver + drainer) * 1000 / messages, 3),
            "per_thread_ms_per_msg": dict(sorted(threads.items(), key=lambda kv: -kv[1]))}


def run_smtp_bench(messages: int = 3000, connections: int = 10, workdir: Path | None = None) -> dict:
    """Run the benchmark and return its figures (also written to bench/results/smtp-*.json)."""
    workdir = Path(workdir or tempfile.mkdtemp(prefix="smtp-bench-"))
    data_dir = workdir / f"smtp-data-{os.getpid()}-{int(time.time())}"
    wire = make_messages(messages)
    yardstick = durable_write_loop(wire, connections, data_dir.with_name(data_dir.name + "-yardstick"))
    _enable_archiving(data_dir)
    port = free_port()
    proc = _start_receiver(data_dir, port)
    try:
        time.sleep(1.0)  # the drainer's start-up (imports, replay of an empty spool) is not the messages' cost
        before, client_began = _thread_cpu(proc.pid), time.process_time()
        seconds, latencies, transactions = asyncio.run(_drive(port, wire, connections))
        sent, client_cpu = _thread_cpu(proc.pid), time.process_time() - client_began
        drain_seconds = _wait_drained(data_dir / "spool" / "new")
        drained = _thread_cpu(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    total_bytes = sum(len(data) for _, _, data in wire)
    result = {
        "benchmark": "smtp_journal",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "messages": messages,
        "connections": connections,
        "seconds": round(seconds, 3),
        "messages_per_s": round(messages / seconds, 1),
        "target_messages_per_s": TARGET_MSG_PER_S,
        "meets_target": messages / seconds >= TARGET_MSG_PER_S,
        "mb_per_s": round(total_bytes / seconds / 1e6, 2),
        "avg_message_bytes": total_bytes // max(messages, 1),
        "latency_250_ms": {k: round(v, 2) for k, v in _percentiles(latencies).items()},
        "transaction_ms": {k: round(v, 2) for k, v in _percentiles(transactions).items()},
        "store_caught_up_after_s": round(drain_seconds, 2),
        "cpu": {**_cpu_figures(before, sent, drained, messages),
                "client_ms_per_msg": round(client_cpu * 1000 / messages, 3)},
        "yardstick": yardstick,
        "ratio_to_yardstick": round(messages / seconds / yardstick["messages_per_s"], 3),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "archived": _archived(data_dir),
        "cpus": os.cpu_count(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"smtp-{result['time'].replace(':', '')}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    result["results_file"] = str(out)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    print(json.dumps(run_smtp_bench(args.messages, args.connections, args.workdir), indent=2))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
