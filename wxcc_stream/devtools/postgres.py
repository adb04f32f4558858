"""A throwaway local PostgreSQL server from Debian's binaries (tests and benchmarks).

`initdb` in a fresh temporary directory, then the server as a child process of ours,
listening on 127.0.0.1 only, its unix socket in that directory. PostgreSQL refuses to run
as root, so as root both run as `nobody` (the directory is handed to that user first).
The server dies with its parent (a fast shutdown), so a killed test run frees its port.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from wxcc_stream.base.parent_death import die_with_parent
from wxcc_stream.devtools.broker.process import free_port

BIN_ROOT = Path("/usr/lib/postgresql")
SERVER_USER = "nobody"
ROOT_PREFIX = "wxcc-pg-"


class PostgresError(RuntimeError):
    """The local PostgreSQL server could not be found, started or stopped."""


def find_bin_dir(root: Path = BIN_ROOT) -> Path:
    """The newest installed major version's bin directory (the one with initdb)."""
    found = sorted(
        (p for p in root.glob("*/bin") if (p / "initdb").is_file()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not found:
        raise PostgresError(
            f"no PostgreSQL server binaries under {root}/*/bin: install Debian's 'postgresql' "
            "package (scripts/bootstrap does)"
        )
    return found[-1]


def _as_server_user() -> dict[str, Any]:
    """Popen arguments that run the child as `nobody` when we are root (else nothing)."""
    if os.geteuid() != 0:
        return {}
    user = pwd.getpwnam(SERVER_USER)
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def remove_stale_roots(tmp: Path | None = None) -> None:
    """Remove the directories of servers whose process is gone (a run killed before its
    clean-up); a live server's directory is left alone."""
    for root in (tmp or Path(tempfile.gettempdir())).glob(f"{ROOT_PREFIX}*"):
        pid_file = root / "data" / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
            os.kill(pid, 0)
            continue  # alive (or not ours to signal): leave it
        except PermissionError:
            continue
        except (OSError, ValueError, IndexError):
            pass
        if time.time() - root.stat().st_mtime > 60:  # not one being set up right now
            shutil.rmtree(root, ignore_errors=True)


@dataclass
class LocalPostgres:
    """One server: `start()`, then connect with `dsn(...)`; `stop()` removes everything."""

    durable: bool = False  # False: fsync off, for tests (a crash of the machine loses it)
    port: int = field(default_factory=free_port)
    root: Path | None = None
    bin_dir: Path = field(default_factory=find_bin_dir)
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        assert self.root is not None, "not started"
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        assert self.root is not None, "not started"
        return self.root / "server.log"

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    def _options(self) -> list[str]:
        assert self.root is not None
        options = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.root),
        }
        if not self.durable:
            options |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        return [arg for name, value in options.items() for arg in ("-c", f"{name}={value}")]

    def start(self, timeout_s: float = 60.0) -> LocalPostgres:
        """initdb in a new temporary directory, start the server, wait until it answers."""
        remove_stale_roots()
        self.root = Path(tempfile.mkdtemp(prefix=ROOT_PREFIX))
        as_user = _as_server_user()
        if as_user:
            os.chown(self.root, as_user["user"], as_user["group"])
        try:
            done = subprocess.run(
                [str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "postgres",
                 "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
                cwd=self.root, capture_output=True, text=True, check=False, **as_user,
            )  # fmt: skip
            if done.returncode != 0:
                raise PostgresError(f"initdb failed ({done.returncode}): {done.stderr.strip()}")
            with self.log_path.open("wb") as log:
                # a fast shutdown (SIGINT) when our process dies, even by SIGKILL
                self._proc = subprocess.Popen(
                    [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), *self._options()],
                    cwd=self.root, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True, preexec_fn=die_with_parent(signal.SIGINT), **as_user,
                )  # fmt: skip
            self._wait_ready(timeout_s)
        except (PostgresError, OSError) as exc:
            log_text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
            self.stop()
            raise PostgresError(f"{exc}\n{log_text[-2000:]}") from None
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout_s
        probe = [str(self.bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise PostgresError(f"postgres exited with {self._proc.returncode}")
            if subprocess.run(probe, check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise PostgresError(f"postgres did not accept connections in {timeout_s} s")

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the server (fast shutdown, then SIGKILL) and remove its directory."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait(timeout=10)
        self._proc = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
