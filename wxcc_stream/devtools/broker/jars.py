"""Fetch the Kafka broker jars from Maven Central with mvn, once."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from importlib import resources
from pathlib import Path

KAFKA_VERSION = "4.0.0"
_MARKER = ".complete"


class JarsError(RuntimeError):
    """The broker jars could not be fetched; the message has mvn's own error."""


def default_jars_dir() -> Path:
    """A per-user cache, shared by every checkout, so a second start downloads nothing."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wxcc-stream" / f"kafka-{KAFKA_VERSION}"


def _pom_text() -> str:
    return resources.files("wxcc_stream.devtools.broker").joinpath("pom.xml").read_text()


def ensure_jars(jars_dir: Path | None = None, *, log: bool = True) -> Path:
    """Return a directory holding the broker's runtime jars, running mvn if needed."""
    target = (jars_dir or default_jars_dir()).resolve()
    pom = _pom_text()
    digest = hashlib.sha256(pom.encode()).hexdigest()
    marker = target / _MARKER
    if marker.exists() and marker.read_text().strip() == digest:
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise JarsError("mvn not found on PATH: install Maven (apt-get install maven)")
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("*.jar"):
        old.unlink()
    pom_path = target / "pom.xml"
    pom_path.write_text(pom)
    if log:
        print(f"fetching Apache Kafka {KAFKA_VERSION} jars with mvn into {target} ...", flush=True)
    cmd = [
        mvn, "-B", "-q", "-f", str(pom_path),
        "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={target}",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise JarsError(
            f"mvn exited {proc.returncode} fetching the Kafka jars:\n"
            f"{(proc.stdout + proc.stderr).strip()[-4000:]}"
        )
    if not any(target.glob(f"kafka_2.13-{KAFKA_VERSION}.jar")):
        raise JarsError(f"mvn succeeded but kafka_2.13-{KAFKA_VERSION}.jar is not in {target}")
    marker.write_text(digest)
    return target
