"""Start, wait for and stop one local KRaft broker process."""

from __future__ import annotations

import base64
import os
import random
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from types import TracebackType

from wxcc_stream.base.parent_death import die_with_parent
from wxcc_stream.devtools.broker.config import BrokerConfig, render_log4j2, render_server_properties

_STARTED_LINE = "Kafka Server started"


class BrokerError(RuntimeError):
    """The local broker could not be started or stopped."""


class PortInUseError(BrokerError):
    """A port the broker needs is already taken by another process."""


_HANDED_OUT: set[int] = set()
"""Ports `free_port` gave in this process: not given twice, even before they are bound."""

_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _ephemeral_low() -> int:
    """The lowest port the kernel gives outgoing connections (32768 when unknown)."""
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (for tests that need private brokers), below
    the kernel's ephemeral range: a port the kernel hands out for port 0 comes from that
    range, where any outgoing connection (a Kafka client's) may take it as its local end
    before the server binds it, and then the server fails to start ("Address already in
    use"; seen with a 3-node cluster's controller port)."""
    high = min(_ephemeral_low(), 65536)
    low = max(1024, high - 16384)
    for _ in range(500):
        port = random.randrange(low, high)
        if port in _HANDED_OUT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _check_port_free(host: str, port: int, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            holder = describe_listener(port)
            raise PortInUseError(
                f"{what} port {host}:{port} is already in use ({exc.strerror})"
                + (f" by {holder}" if holder else "")
                + "; stop the process using it or choose another port "
                "(WXCC_BROKER_PORT / WXCC_BROKER_CONTROLLER_PORT)"
            ) from None


def describe_listener(port: int) -> str | None:
    """Who listens on a local TCP port, for the error a person reads: a stale Kafka broker
    of an earlier run is named with its pid and data dir. None when /proc cannot tell."""
    pid = listener_pid(port)
    if pid is None:
        return None
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return f"pid {pid}"
    for arg in args:
        if arg.endswith(b"server.properties") and b"kafka.Kafka" in args:
            data_dir = Path(arg.decode(errors="replace")).parent
            return (
                f"pid {pid}, a Kafka broker with data dir {data_dir} (left by an earlier run? "
                f"`kill {pid}` stops it)"
            )
    return f"pid {pid} ({b' '.join(args[:3]).decode(errors='replace')})"


def listener_pid(port: int) -> int | None:
    """The pid holding a listening TCP socket on `port` (Linux /proc), or None."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{inode}]")
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    return int(proc.name)
        except OSError:
            continue
    return None


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def new_cluster_id() -> str:
    """A KRaft cluster id in the format `kafka-storage random-uuid` prints.

    Not starting with "-": `kafka-storage format -t <id>` would read it as an option (about
    one id in 64), as Kafka's own generator avoids too.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class LocalBroker:
    """One broker+controller JVM on loopback, with its data under `config.data_dir`."""

    def __init__(self, config: BrokerConfig, jars_dir: Path) -> None:
        self.config = config
        self.jars_dir = jars_dir
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return self.config.bootstrap

    @property
    def server_log(self) -> Path:
        return self.config.log_dir / "server.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def _java(self) -> str:
        home = os.environ.get("JAVA_HOME")
        return str(Path(home) / "bin" / "java") if home else "java"

    def _classpath(self) -> str:
        return f"{self.jars_dir}/*"

    def _write_files(self) -> tuple[Path, Path]:
        cfg = self.config
        cfg.log_dir.mkdir(parents=True, exist_ok=True)
        cfg.kraft_dir.mkdir(parents=True, exist_ok=True)
        props = cfg.data_dir / "server.properties"
        props.write_text(render_server_properties(cfg))
        log4j = cfg.data_dir / "log4j2.properties"
        log4j.write_text(render_log4j2(self.server_log))
        return props, log4j

    def _format_storage(self, props: Path, log4j: Path) -> None:
        id_file = self.config.data_dir / "cluster.id"
        if not id_file.exists():
            id_file.write_text(new_cluster_id())
        cmd = [
            self._java(), "-cp", self._classpath(), f"-Dlog4j2.configurationFile={log4j}",
            "kafka.tools.StorageTool", "format", "-t", id_file.read_text().strip(),
            "-c", str(props), "--ignore-formatted",
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise BrokerError(f"formatting KRaft storage failed:\n{proc.stdout}{proc.stderr}")

    def start(self, timeout_s: float = 90.0) -> None:
        """Format storage if needed, start the JVM and wait until the broker answers."""
        self.wait_started(self.launch(), timeout_s)

    def launch(self) -> int:
        """Format storage if needed and start the JVM without waiting (a cluster's nodes
        start together: none is ready before a majority of the quorum runs). The server
        log's offset at launch, for `wait_started`."""
        self.prepare()
        return self.spawn()

    def prepare(self) -> None:
        """Check the ports, write the config files and format storage if needed. Slow (the
        storage tool is a JVM of its own): a caller with an event loop runs it in a thread."""
        if self._proc is not None and self._proc.poll() is None:
            raise BrokerError(f"broker {self.config.node_id} already running")
        cfg = self.config
        _check_port_free(cfg.host, cfg.port, "broker")
        _check_port_free(cfg.host, cfg.controller_port, "controller")
        props, log4j = self._write_files()
        self._format_storage(props, log4j)

    def spawn(self) -> int:
        """Start the JVM on prepared files (from the main thread, so that it dies with this
        process); the server log's offset at launch."""
        cfg = self.config
        props, log4j = cfg.data_dir / "server.properties", cfg.data_dir / "log4j2.properties"
        log_offset = self.server_log.stat().st_size if self.server_log.exists() else 0
        cmd = [
            self._java(), f"-Xms{min(256, cfg.heap_mb)}m", f"-Xmx{cfg.heap_mb}m",
            "-XX:+UseG1GC", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
            "-Djava.awt.headless=true", f"-Dlog4j2.configurationFile={log4j}",
            "-cp", self._classpath(), "kafka.Kafka", str(props),
        ]  # fmt: skip
        stdout = (cfg.log_dir / "stdout.log").open("ab")
        # SIGKILL when our process dies: Kafka recovers its logs, and the port is free at once
        self._proc = subprocess.Popen(
            cmd, stdout=stdout, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=die_with_parent(signal.SIGKILL),
        )  # fmt: skip
        stdout.close()
        return log_offset

    def wait_started(self, log_offset: int, timeout_s: float) -> None:
        """Until the server log says started (after `log_offset`) and the port answers."""
        deadline = time.monotonic() + timeout_s
        assert self._proc is not None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BrokerError(
                    f"broker exited with code {self._proc.returncode} while starting; "
                    f"see {self.server_log} and {self.config.log_dir / 'stdout.log'}"
                )
            if self._log_says_started(log_offset) and _port_open(
                self.config.host, self.config.port
            ):
                return
            time.sleep(0.2)
        self.kill()
        raise BrokerError(f"broker did not start within {timeout_s:.0f} s; see {self.server_log}")

    def _log_says_started(self, offset: int) -> bool:
        try:
            with self.server_log.open("rb") as log:
                log.seek(offset)
                return _STARTED_LINE.encode() in log.read()
        except FileNotFoundError:
            return False

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def wait(self) -> int:
        """Block until the broker process exits; its exit code."""
        assert self._proc is not None
        return self._proc.wait()

    def request_stop(self) -> None:
        """Ask for a controlled shutdown (SIGTERM) without waiting."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Controlled shutdown (SIGTERM), then SIGKILL if it does not exit in time."""
        if not self.running():
            return
        assert self._proc is not None
        self.request_stop()
        try:
            self._proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL, for fault tests: the broker gets no chance to shut down."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> LocalBroker:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
