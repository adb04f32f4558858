"""Benchmark: the ingress against a bare aiohttp 202 handler, on loopback, driven by wrk.

    python -m bench.ingress [--bootstrap HOST:PORT] [--duration 10] [--connections 64]

1. a Kafka broker: `--bootstrap`, else a private one started from the official jars;
2. the bare handler (`bench/ingress/bare.py`) in its own process, driven by wrk for
   `--duration` seconds: events/s, p50, p99; then the same handler running the ingress's
   checks first (signature, schema, records; nothing stored), to split the ingress's
   cost between its checks and Kafka's client;
3. the real ingress (`wxcc-stream ingress`: signature check, schema, Kafka acks=all,
   idempotent, lz4) in its own process, driven the same way;
4. the ingress again, paced at half the bare rate (wrk's `delay()` hook spreads each
   connection's requests; wrk2 is not available), for its p99 at that load; and, for
   context, paced at half its own maximum.

wrk reports achieved rates, so a paced run that cannot reach its target shows it. The
server's CPU time per request (from /proc) is printed too: on a shared machine it is a
steadier comparison than throughput; so is the private broker's (it shares the cores),
and the load average before and after, to tell a quiet run from a noisy one.

wrk POSTs a rotation of signed, vendor-like `agent:state_change` bodies (~0.5 KB).
Targets (issue 4): ingress >= 60% of the bare throughput; p99 < 25 ms at half that rate.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path

import orjson

from bench.profile import Profile, print_top
from wxcc_stream.devtools.broker import BrokerConfig, LocalBroker, ensure_jars
from wxcc_stream.devtools.broker.process import free_port
from wxcc_stream.schemas.signing import sign

PATH = "/webhooks/wxcc"
SUB = "bench-subscription"
SECRET = "bench-secret-0123456789abcdef0123456789"
ORG = "9dcb8657-ffad-45a1-9d8c-2f66e3b64f08"
ROOT = Path(__file__).resolve().parents[2]
CHECKS_ONLY = "bare + ingress checks, no Kafka"


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured (and the server's CPU time per request)."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    errors: int
    cpu_us_per_request: float = 0.0
    broker_cpu_us_per_request: float | None = None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """The live processes below `pid` (from /proc's parent ids: this kernel has no
    /proc/<pid>/task/<tid>/children)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # ended meanwhile
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def tree_cpu_seconds(pids: Sequence[int]) -> float:
    """CPU time so far of the processes and every live process below them."""
    total = 0.0
    for pid in {p for root in pids for p in (root, *descendants(root))}:
        with suppress(OSError, IndexError, ValueError):  # ended meanwhile
            total += cpu_seconds(pid)
    return total


def bodies(n: int) -> list[bytes]:
    """`n` distinct vendor-like agent:state_change bodies (~0.5 KB each)."""
    out = []
    for i in range(n):
        doc = {
            "id": str(uuid.UUID(int=i + 1)),
            "specversion": "1.0",
            "type": "agent:state_change",
            "source": f"/com/cisco/wxcc/{SUB}",
            "comciscoorgid": ORG,
            "datacontenttype": "application/json",
            "data": {
                "agentId": f"8e18afd-db79-449b-b4f5-{i % 500:012d}",
                "agentSessionId": "6bd4c1f5-7f0e-4e4b-8b0a-0ad6b1c1e0a1",
                "currentState": "available",
                "teamId": "3ce57020-dfd7-47fd-91a1-2783bf4a08e5",
                "channelId": "bc6e3a4e-3b57-4cf9-a1cd-3c31d0b0b2c9",
                "channelType": "telephony",
                "idleCodeId": "0",
                "destination": "31476521",
                "profileType": "BLENDED",
                "createdTime": 1_709_539_200_000 + i,
                "wrapUpAuxCodeId": None,
            },
        }
        out.append(orjson.dumps(doc))
    return out


def lua_script(items: list[bytes], rate: float | None) -> str:
    """A wrk script POSTing the bodies in turn, each with its signature; with `rate`, paced
    to about that many requests per second (one wrk thread)."""
    lines = ["local reqs = {}", "local bodies = {"]
    lines += [f"  [==[{b.decode()}]==]," for b in items]
    lines += ["}", "local sigs = {"]
    lines += [f'  "{sign(b, SECRET)}",' for b in items]
    lines += [
        "}",
        "init = function(args)",
        "  for i = 1, #bodies do",
        "    local h = {}",
        '    h["Content-Type"] = "application/json"',
        '    h["X-WebexCC-Signature"] = sigs[i]',
        f'    reqs[i] = wrk.format("POST", "{PATH}", h, bodies[i])',
        "  end",
        "end",
        "local n = 0",
        "request = function()",
        "  n = n % #reqs + 1",
        "  return reqs[n]",
        "end",
    ]
    if rate is not None:
        lines += _PACING.replace("INTERVAL_MS", f"{1000 / rate:.6f}").splitlines()
    return "\n".join(lines) + "\n"


# Pacing (wrk2 is not packaged): each request a connection is about to send takes the
# thread's next send slot, one every INTERVAL_MS, and waits for it (wrk's `delay()` hook),
# so the rate holds whatever the response time, as long as a connection is free. Slots
# more than 100 ms in the past are dropped rather than sent as a burst. LuaJIT's ffi reads
# the monotonic clock (Lua itself has only whole seconds).
_PACING = """
local ffi = require("ffi")
ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } wxcc_timespec;
           int clock_gettime(int clk, wxcc_timespec *tp); ]]
local ts = ffi.new("wxcc_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end
local slot = nil
delay = function()
  local now = now_ms()
  if slot == nil or slot < now - 100 then slot = now end
  local wait = slot - now
  slot = slot + INTERVAL_MS
  if wait < 1 then return 0 end
  return math.floor(wait)
end
"""


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """Requests/sec, p50 and p99 (from --latency), request and error counts."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        rps=rps,
        p50_ms=p50,
        p99_ms=p99,
        requests=total,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        errors=sum(int(g) for g in errors.groups()) if errors else 0,
    )


def run_wrk(
    url: str,
    script: Path,
    *,
    duration_s: int,
    connections: int,
    threads: int = 1,
    server_pids: Sequence[int] = (),
    broker_pid: int | None = None,
) -> WrkResult:
    """One wrk run; with `server_pids` (`broker_pid`), also the CPU microseconds per request
    of those processes and their children (of the broker)."""
    cpu_before = tree_cpu_seconds(server_pids)
    broker_before = cpu_seconds(broker_pid) if broker_pid else 0.0
    cmd = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", "--latency",
        "--timeout", "5s", "-s", str(script), url,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    result = parse_wrk(proc.stdout)
    if server_pids and result.requests:
        used = tree_cpu_seconds(server_pids) - cpu_before
        result = replace(result, cpu_us_per_request=used / result.requests * 1e6)
    if broker_pid and result.requests:
        used = cpu_seconds(broker_pid) - broker_before
        result = replace(result, broker_cpu_us_per_request=used / result.requests * 1e6)
    return result


def ensure_wrk() -> bool:
    """wrk on the PATH, installed from Debian's package (as scripts/bootstrap installs the
    project's other Debian packages) when it is missing; False when that failed."""
    if shutil.which("wrk") is not None:
        return True
    print("bench: wrk is missing, installing Debian's package ...", file=sys.stderr, flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        [*sudo, "apt-get", "update", "-qq"],
        [*sudo, "apt-get", "install", "-y", "-qq", "wrk"],
    ):
        done = subprocess.run(cmd, env=apt_env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"bench: {' '.join(cmd)} failed:\n{done.stderr}", file=sys.stderr)
            return False
    if shutil.which("wrk") is None:
        print("bench: wrk is still not on the PATH after apt-get", file=sys.stderr)
        return False
    return True


def wait_processes(base: str, count: int, timeout_s: float = 60.0) -> None:
    """Until `count` distinct processes answered /healthz on new connections (a process
    listens only once it is started, its Kafka producer included)."""
    deadline = time.monotonic() + timeout_s
    pids: set[object] = set()
    while len(pids) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(pids)} of {count} processes answered at {base}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as response:
                pids.add(orjson.loads(response.read()).get("pid"))
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)


def multi_process_rows(
    args: argparse.Namespace,
    results: dict[str, WrkResult],
    bare_env: dict[str, str],
    ingress_env: dict[str, str],
    script: Path,
    workdir: Path,
    broker_pid: int | None,
) -> None:
    """N bare processes, then N ingress processes, on one port each (SO_REUSEPORT), driven
    by wrk with N threads: the per-core ratio."""
    n = args.processes
    port = free_port()
    url = f"http://127.0.0.1:{port}{PATH}"
    bare_cmd = [sys.executable, "-m", "bench.ingress.bare", "--port", str(port), "--reuse-port"]
    with ExitStack() as stack:
        procs = [
            stack.enter_context(process(bare_cmd, bare_env, workdir / f"bare-{i}.log"))
            for i in range(n)
        ]
        wait_http(f"http://127.0.0.1:{port}/healthz")
        run_wrk(url, script, duration_s=2, connections=args.connections, threads=n)  # warm-up
        results[f"{n} bare processes"] = run_wrk(
            url, script, duration_s=args.duration, connections=args.connections, threads=n,
            server_pids=[p.pid for p in procs], broker_pid=broker_pid,
        )  # fmt: skip
    port = free_port()
    url = f"http://127.0.0.1:{port}{PATH}"
    cmd = [sys.executable, "-m", "wxcc_stream.cli", "ingress", "--port", str(port)]
    with process([*cmd, "--processes", str(n)], ingress_env, workdir / "ingress-n.log") as multi:
        wait_processes(f"http://127.0.0.1:{port}", n)
        run_wrk(url, script, duration_s=2, connections=args.connections, threads=n)  # warm-up
        results[f"{n} ingress processes"] = run_wrk(
            url, script, duration_s=args.duration, connections=args.connections, threads=n,
            server_pids=[multi.pid], broker_pid=broker_pid,
        )  # fmt: skip


def profiled_run(
    url: str, script: Path, args: argparse.Namespace, pid: int, name: str, focus: str
) -> None:
    """One more saturated wrk run (not in the table) with py-spy sampling `pid`; prints the
    top functions of the whole process, then of the stacks through `focus` (the handler)."""
    path = Path(args.profile) / f"{name}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    spy = Profile(pid, path, native=args.native)
    try:
        run_wrk(url, script, duration_s=args.duration, connections=args.connections)
    finally:
        spy.stop()
    print(f"\n  {name} under wrk:", flush=True)
    print_top(path, f"{name}, whole process", count=args.profile_lines)
    print_top(path, f"{name}, inside {focus}", count=args.profile_lines, focus=focus)


def wait_http(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {timeout_s:.0f} s")


@contextmanager
def process(cmd: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def broker_and_pid(bootstrap: str | None, workdir: Path) -> Iterator[tuple[str, int | None]]:
    """The bootstrap address, and the broker's pid when it is a private one started here."""
    if bootstrap:
        yield bootstrap, None
        return
    cfg = BrokerConfig("127.0.0.1", free_port(), free_port(), workdir / "kafka", heap_mb=512)
    local = LocalBroker(cfg, ensure_jars())
    print(f"starting a private Kafka broker on {cfg.bootstrap} ...", file=sys.stderr, flush=True)
    local.start()
    try:
        yield local.bootstrap, local.pid
    finally:
        local.stop()


@contextmanager
def broker(bootstrap: str | None, workdir: Path) -> Iterator[str]:
    """The bootstrap address: `bootstrap`, else a private broker's."""
    with broker_and_pid(bootstrap, workdir) as (address, _):
        yield address


async def _raw_count(bootstrap: str, topic: str) -> int:
    """Records in a topic: the sum of its partitions' end offsets."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.structs import TopicPartition

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    parts = [TopicPartition(topic, p["partition"]) for p in described.get("partitions", ())]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        return int(sum((await consumer.end_offsets(parts)).values())) if parts else 0
    finally:
        await consumer.stop()


def client_env(spec: str, linger_ms: int) -> dict[str, str]:
    """The ingress settings of a `--publishers` entry: `client` or `client:linger_ms`."""
    client, _, linger = spec.partition(":")
    return {"WXCC_INGRESS_PUBLISHER": client, "WXCC_INGRESS_LINGER_MS": linger or str(linger_ms)}


def ingress_key(publisher: str) -> str:
    """The table row of the saturated single-process ingress with this Kafka client."""
    return f"ingress, {publisher}"


def report(results: dict[str, WrkResult], publishers: list[str], load: tuple[float, float]) -> None:
    """The table, the ratios and the half-rate p99s."""
    head = f"{'run':<32} {'events/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}"
    print(f"\n{head} {'server CPU us/req':>18} {'broker CPU us/req':>18}")
    for name, r in results.items():
        line = (
            f"{name:<32} {r.rps:>10.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.non_2xx:>8} "
            f"{r.cpu_us_per_request:>18.0f}"
        )
        broker_cpu = r.broker_cpu_us_per_request
        print(line if broker_cpu is None else f"{line} {broker_cpu:>18.0f}")
    print()
    bare = results.get("bare 202 handler")
    checks = results.get(CHECKS_ONLY)
    if bare is not None and bare.rps:
        for publisher in publishers:
            ing = results[ingress_key(publisher)]
            cpu = ing.cpu_us_per_request / bare.cpu_us_per_request
            print(
                f"ingress ({publisher}) / bare throughput: {ing.rps / bare.rps:.0%} (target >= "
                f"60%); server CPU per request {cpu:.2f}x the bare handler's"
            )
            paced = next(k for k in results if k.startswith(f"{ingress_key(publisher)} paced"))
            print(
                f"ingress ({publisher}) p99 at half the bare rate: "
                f"{results[paced].p99_ms:.2f} ms (target < 25 ms; {results[paced].rps:.0f}/s "
                "reached)"
            )
            if checks is not None:
                print(
                    f"  Kafka's client ({publisher}) adds "
                    f"{ing.cpu_us_per_request - checks.cpu_us_per_request:.0f} us CPU per request "
                    "to the checks"
                )
        bare_paced = next((r for k, r in results.items() if k.startswith("bare paced")), None)
        if bare_paced is not None:
            print(f"the bare handler's own p99 at half its rate: {bare_paced.p99_ms:.2f} ms")
        if checks is not None:
            print(
                f"checks alone, without Kafka: {checks.rps / bare.rps:.0%} of the bare throughput "
                f"(+{checks.cpu_us_per_request - bare.cpu_us_per_request:.0f} us CPU per request)"
            )
    for key in [k for k in results if k.endswith(" ingress processes")]:
        n = key.split()[0]
        bare_n = results.get(f"{n} bare processes")
        if bare_n is not None and bare_n.rps:
            print(
                f"{n} processes, ingress / bare throughput: {results[key].rps / bare_n.rps:.0%} "
                f"(per core: {results[key].rps / int(n):.0f} against {bare_n.rps / int(n):.0f}/s)"
            )
    print(f"load average (1 min) before / after: {load[0]:.2f} / {load[1]:.2f}")
    print("* paced at half the ingress's own maximum, for context (not a target)")


def single_process_rows(
    args: argparse.Namespace,
    results: dict[str, WrkResult],
    items: list[bytes],
    bare_env: dict[str, str],
    ingress_env: dict[str, str],
    workdir: Path,
    broker_pid: int | None,
) -> None:
    """The bare handler (also paced at half its rate), the bare handler with the checks,
    then the ingress with each Kafka client: saturated and paced at half the bare rate."""
    flat = workdir / "post.lua"
    baselines = (("bare 202 handler", "bare", []), (CHECKS_ONLY, "bare-checks", ["--checks"]))
    for name, log_name, flags in baselines:
        port = free_port()
        cmd = [sys.executable, "-m", "bench.ingress.bare", "--port", str(port), *flags]
        with process(cmd, bare_env, workdir / f"{log_name}.log") as bare:
            wait_http(f"http://127.0.0.1:{port}/healthz")
            url = f"http://127.0.0.1:{port}{PATH}"
            run_wrk(url, flat, duration_s=2, connections=args.connections)  # warm-up
            results[name] = run_wrk(
                url, flat, duration_s=args.duration, connections=args.connections,
                server_pids=[bare.pid], broker_pid=broker_pid,
            )  # fmt: skip
            if not flags:  # the latency the machine itself gives at half that rate
                half = results[name].rps / 2
                paced = workdir / "bare-paced.lua"
                paced.write_text(lua_script(items, half))
                results[f"bare paced at {half:.0f}/s"] = run_wrk(
                    url, paced, duration_s=args.duration, connections=args.paced_connections,
                    server_pids=[bare.pid], broker_pid=broker_pid,
                )  # fmt: skip
            if args.profile and flags:
                profiled_run(url, flat, args, bare.pid, log_name, "check")
    half = results["bare 202 handler"].rps / 2
    paced = workdir / "paced.lua"
    paced.write_text(lua_script(items, half))
    for index, publisher in enumerate(args.publishers):
        port = free_port()
        cmd = [sys.executable, "-m", "wxcc_stream.cli", "ingress", "--port", str(port)]
        env = {**ingress_env, **client_env(publisher, args.linger_ms)}
        with process(cmd, env, workdir / f"ingress-{publisher}.log") as ingress:
            wait_http(f"http://127.0.0.1:{port}/readyz")
            url = f"http://127.0.0.1:{port}{PATH}"
            run_wrk(url, flat, duration_s=2, connections=args.connections)  # warm-up
            key = ingress_key(publisher)
            results[key] = run_wrk(
                url, flat, duration_s=args.duration, connections=args.connections,
                server_pids=[ingress.pid], broker_pid=broker_pid,
            )  # fmt: skip
            results[f"{key} paced at {half:.0f}/s"] = run_wrk(
                url, paced, duration_s=args.duration, connections=args.paced_connections,
                server_pids=[ingress.pid], broker_pid=broker_pid,
            )  # fmt: skip
            if index == 0:
                # for context: latency at half the ingress's own maximum (not saturated)
                own = results[key].rps / 2
                light = workdir / "light.lua"
                light.write_text(lua_script(items, own))
                results[f"{key} paced at {own:.0f}/s *"] = run_wrk(
                    url, light, duration_s=args.duration, connections=args.paced_connections,
                    server_pids=[ingress.pid], broker_pid=broker_pid,
                )  # fmt: skip
            if args.profile:
                profiled_run(url, flat, args, ingress.pid, f"ingress-{publisher}", "receive")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingress",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--bootstrap", help="use this Kafka instead of starting one")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (10)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    parser.add_argument("--paced-connections", type=int, default=100, help="for the paced run")
    parser.add_argument("--bodies", type=int, default=500, help="distinct bodies (500)")
    parser.add_argument("--compression", default="lz4", help="ingress producer compression")
    parser.add_argument("--linger-ms", type=int, default=0, help="ingress producer linger")
    parser.add_argument(
        "--publishers",
        type=lambda text: [p.strip() for p in text.split(",") if p.strip()],
        default=["aiokafka", "confluent"],
        help="the ingress's Kafka clients to measure, each in its own rows, as client or "
        "client:linger_ms; the first also runs the multi-process rows (aiokafka,confluent)",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="after the measured runs, one more saturated run of the checking bare handler and "
        "of the ingress each under py-spy (collapsed stacks in DIR); prints the top functions",
    )
    parser.add_argument(
        "--native", action="store_true", help="with --profile: native frames too (C, GC)"
    )
    parser.add_argument("--profile-lines", type=int, default=25, help="functions printed (25)")
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="then N bare processes against `wxcc-stream ingress --processes N` on one port, "
        "wrk with N threads (2; 1 skips these rows)",
    )
    parser.add_argument("--processes-only", action="store_true", help="only the multi-process rows")
    args = parser.parse_args(argv)
    if not ensure_wrk():
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="wxcc-bench-"))
    items = bodies(args.bodies)
    flat = workdir / "post.lua"
    flat.write_text(lua_script(items, None))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    results: dict[str, WrkResult] = {}
    load_before = os.getloadavg()[0]
    with broker_and_pid(args.bootstrap, workdir) as (bootstrap, broker_pid):
        bare_env = {**env, "WXCC_INGRESS_SECRETS": f"{SUB}={SECRET}"}  # for --checks
        prefix = f"bench{uuid.uuid4().hex[:8]}"
        ingress_env = {
            **env,
            "WXCC_KAFKA_BOOTSTRAP": bootstrap,
            "WXCC_TOPIC_PREFIX": prefix,
            "WXCC_INGRESS_SECRETS": f"{SUB}={SECRET}",
            "WXCC_INGRESS_COMPRESSION": args.compression,
            **client_env(args.publishers[0], args.linger_ms),
            "WXCC_LOG_LEVEL": "WARNING",
        }
        if not args.processes_only:
            single_process_rows(args, results, items, bare_env, ingress_env, workdir, broker_pid)
        if args.processes > 1:
            multi_process_rows(args, results, bare_env, ingress_env, flat, workdir, broker_pid)
        shown = [] if args.processes_only else args.publishers
        report(results, shown, (load_before, os.getloadavg()[0]))
        stored = asyncio.run(_raw_count(bootstrap, f"{prefix}.raw"))
    accepted = sum(
        r.requests - r.non_2xx
        for k, r in results.items()
        if k.startswith("ingress") or k.endswith("ingress processes")
    )
    print(f"records in the raw topic: {stored} (2xx answers incl. warm-up: >= {accepted})")
    print(f"logs and scripts: {workdir}")
    return 0
