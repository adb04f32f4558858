"""The soak (issue 18), short: `bench.soak`'s whole run on a private broker, bounded by
`soak_seconds` (traffic for a third of it), and its checks asserted: projections equal the
truth on every field the reconciliation can restore (2 % of the webhooks were never sent),
every accepted event is in the raw topic, no answer but 2xx and the 503s of the broker's
restart, both workers alive. The RSS figures are printed, not asserted."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bench.soak.run import SoakConfig, run_soak
from wxcc_stream.devtools.broker import LocalBroker

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(900)]


async def test_soak_with_faults_ends_equal_to_the_truth(
    broker_factory: Callable[[], LocalBroker], tmp_path: Path, soak_seconds: float
) -> None:
    # a third of the bound as traffic: the rest is start-up, the faults (the traffic slows
    # down rather than end before the last one) and the checks
    config = SoakConfig(traffic_s=soak_seconds / 3)
    report = await run_soak(broker_factory(), tmp_path, config)
    print(*report.lines(), sep="\n")
    assert report.problems() == []
    # the soak did what it says: damage, every fault, reconciliation that restored something
    assert report.dropped > 0
    assert len(report.observed.accepted) < report.events  # the dropped were never accepted
    assert [f.what for f in report.faults] == [
        "worker-1 SIGKILL + restart", "worker-2 joins", "broker restart", "reconcile run",
    ]  # fmt: skip
    assert sum(events for _, events, _ in report.reconciled) > 0
    assert report.converged_s is not None
    # every process was sampled; the killed worker as two processes
    names = [name.split(" ")[0] for name in report.observed.rss]
    assert sorted(names) == ["ingress", "worker-1", "worker-1", "worker-2"], names
