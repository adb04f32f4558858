"""What is mutated, and which tests must kill the mutants of each group.

Each group names source folders or files (paths in the repository) and the unit tests that
cover them: a mutant runs only its group's tests, so a run stays within hours on two cores.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Group:
    """Modules mutated together and the unit tests that judge them."""

    name: str
    sources: tuple[str, ...]
    tests: tuple[str, ...]


GROUPS: tuple[Group, ...] = (
    Group(
        "projections",
        sources=("projections",),
        # the projections' own unit tests, fastest first (-x stops at the first failure);
        # the per-entity log's properties (tests/unit/test_entity_properties.py, 45 s a
        # run) judge the core group, which mutates the log they test
        tests=(
            "tests/unit/test_event_order.py",
            "tests/unit/test_task_summary_edges.py",
            "tests/unit/test_agent_summary_facts.py",
            "tests/unit/test_projection_registry.py",
            "tests/unit/test_folds.py",
            "tests/unit/test_agent_summary.py",
            "tests/unit/test_folds_vs_ground_truth.py",
            "tests/unit/test_task_summary_properties.py",
        ),
    ),
    Group(
        "core",
        # every pure module of the worker (processors/core imports neither faust nor
        # aiokafka: tests/unit/test_layout.py), its table rows and the contract order
        sources=(
            "processors/core",
            "processors/storage/rows.py",
            "processors/storage/log_value.py",
            "projections/event_order.py",
        ),
        # example-based tests first, the properties last (-x stops at the first failure)
        tests=(
            "tests/unit/test_event_order.py",
            "tests/unit/test_positions.py",
            "tests/unit/test_partitioning.py",
            "tests/unit/test_pipeline.py",
            "tests/unit/test_on_late.py",
            "tests/unit/test_log_chunks.py",
            "tests/unit/test_entity.py",
            "tests/unit/test_entity_caches.py",
            "tests/unit/test_entity_rows.py",
            "tests/unit/test_codec_formats.py",
            "tests/unit/test_reconciled_age.py",
            "tests/unit/test_agent_summary.py",
            "tests/unit/test_worker_shell.py",
            "tests/unit/test_folds_vs_ground_truth.py",
            "tests/unit/test_entity_identity_properties.py",
            "tests/unit/test_entity_properties.py",
        ),
    ),
)
