"""A throwaway local PostgreSQL server from Debian's binaries (tests and benchmarks).

`initdb` in a fresh temporary directory, listening on 127.0.0.1 only, its unix socket in
that directory. PostgreSQL refuses to run as root, so as root the server runs as `nobody`
(through `runuser`); the directory is handed to that user first.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from wxcc_stream.devtools.broker.process import free_port

BIN_ROOT = Path("/usr/lib/postgresql")
SERVER_USER = "nobody"


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


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", SERVER_USER, "--", *argv]


@dataclass
class LocalPostgres:
    """One server: `start()`, then connect with `dsn(...)`; `stop()` removes everything."""

    durable: bool = False  # False: fsync off, for tests (a crash of the machine loses it)
    port: int = field(default_factory=free_port)
    root: Path | None = None
    bin_dir: Path = field(default_factory=find_bin_dir)

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

    def _run(self, *argv: str) -> None:
        assert self.root is not None
        command = _as_server_user([str(self.bin_dir / argv[0]), *argv[1:]])
        done = subprocess.run(command, cwd=self.root, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise PostgresError(f"{argv[0]} failed ({done.returncode}): {done.stderr.strip()}")

    def start(self) -> LocalPostgres:
        """initdb in a new temporary directory and start the server; waits until it is up."""
        self.root = Path(tempfile.mkdtemp(prefix="wxcc-pg-"))
        if os.geteuid() == 0:
            user = pwd.getpwnam(SERVER_USER)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-c port={self.port}",
            f"-c unix_socket_directories={self.root}",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        try:
            self._run("initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
                      "-E", "UTF8", "--locale=C", "--no-sync")  # fmt: skip
            self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_path),
                      "-o", " ".join(options), "-w", "-t", "60", "start")  # fmt: skip
        except PostgresError as exc:
            log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
            self._remove()
            raise PostgresError(f"{exc}\n{log[-2000:]}") from None
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory."""
        if self.root is None:
            return
        try:
            if (self.data_dir / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
        finally:
            self._remove()

    def _remove(self) -> None:
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
