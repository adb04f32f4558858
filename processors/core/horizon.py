"""The retained history is bounded: events older than `watermark - horizon` are folded into
the base and forgotten, and a quiet ended entity keeps only its final projection."""

from __future__ import annotations

from wxcc_stream.processors.core.log import NO_REFS, NONE
from wxcc_stream.processors.core.outcome import BeyondHorizon, BeyondReason
from wxcc_stream.processors.core.policy import Policy
from wxcc_stream.processors.core.refold import CHECKPOINT_EVERY, stale_from, state_after
from wxcc_stream.processors.core.reorder import release
from wxcc_stream.processors.core.working import Working
from wxcc_stream.projections.agent_state import evolve_agent
from wxcc_stream.projections.agent_summary import agent_summary_changes
from wxcc_stream.projections.registry import ProjectionState
from wxcc_stream.projections.states import AgentState, TaskLifecycle
from wxcc_stream.projections.task_lifecycle import summary_on_final
from wxcc_stream.projections.task_summary import summary_facts
from wxcc_stream.schemas.event import Event

__all__ = ["beyond", "compact", "prune", "quiet", "set_aside"]


def beyond(w: Working, event: Event) -> None:
    """Report an event older than the retained history (neither deduplicated nor folded)."""
    # a floor is only ever set together with a watermark
    assert w.watermark is not None
    assert w.floor is not None
    reason = (
        BeyondReason.HORIZON
        if event.created_time < w.watermark - w.policy.horizon_ms
        else BeyondReason.COMPACTED
    )
    if _corrects_final(w, event) or _resets_agent(w, event):
        return
    _report(w, event, w.floor, reason)


def _resets_agent(w: Working, event: Event) -> bool:
    """A reconciled agent summary behind the retained history (an agent compacted after
    its logout, or quiet) is folded into the base when nothing pruned sorts after it,
    which is all its reset needs; the retained events refold on the new base, and it is
    reported as a late event. A repeat (the base's newest event) is dropped. A summary
    with pruned events after it, or retained ones before it (pruning at checkpoints keeps
    a few past the floor), is reported beyond the horizon (docs/projections.md)."""
    base = w.base
    if not isinstance(base, AgentState) or agent_summary_changes(event) is None:
        return False
    if base.last_event_time is not None and base.last_event_time > event.created_time:
        return False
    # pruning at checkpoints may keep events past the floor: one before it means the
    # summary belongs in the history, which this path does not do (reported instead)
    oldest = next(iter(w.history), None)
    if oldest is not None and oldest.key < w.event_key(event):
        return False
    if base.last_event_id == event.ce_id:
        return True
    w.base = evolve_agent(base, event)
    if w.checkpoints:
        w.own_checkpoints().clear()
    w.recent = None
    if w.history:
        stale_from(w, 0)
    else:
        w.state = w.base
    w.late.append(event)
    w.touched = True
    return True


def _corrects_final(w: Working, event: Event) -> bool:
    """A reconciled task summary still corrects its task however old it is, even with
    the history it would fold behind pruned or compacted (docs/reconciliation.md, "Age"):
    its facts overlay the fold, so they are applied to the state and to the base (both a
    revision further; the cached states are dropped) and it is reported as a late event;
    a repeat that changes nothing is dropped."""
    state, base = w.state, w.base
    if not isinstance(state, TaskLifecycle) or not isinstance(base, TaskLifecycle):
        return False
    if not summary_facts(event):
        return False
    corrected = summary_on_final(state, event)
    if corrected is not None:
        w.state = corrected
        w.base = summary_on_final(base, event, always=True) or base
        if w.checkpoints:
            w.own_checkpoints().clear()
        w.recent = None
        w.late.append(event)
        w.touched = True
    return True


def set_aside(w: Working, event: Event) -> None:
    """Report a late event the policy does not fold (`OnLate.SET_ASIDE`); its floor is the
    createdTime of the newest released event."""
    assert w.watermark is not None  # there is a released event
    _report(w, event, w.history.last().key[0], BeyondReason.SET_ASIDE)


def _report(w: Working, event: Event, floor: int, reason: BeyondReason) -> None:
    assert w.watermark is not None
    w.beyond.append(
        BeyondHorizon(
            event=event,
            kind=w.log.kind,
            entity_id=w.log.entity_id,
            watermark=w.watermark,
            floor=floor,
            reason=reason,
        )
    )


def prune(w: Working) -> None:
    """Fold events older than `watermark - horizon` into `base` and forget them."""
    if w.watermark is None:
        return
    target = w.watermark - w.policy.horizon_ms
    if w.floor is None or target > w.floor:
        w.floor = target
        w.touched = True
    floor = w.floor
    # grace < horizon, so these are due already; release them before pruning regardless
    release(w, sum(1 for h in w.buffer if h.key[0] < floor))
    count = 0
    for held in w.history:
        if held.key[0] >= floor:
            break
        count += 1
    count, base_state = _prunable(w, count)
    if count:
        w.touched = True
        w.base = base_state
        index = w.own_index()
        for held in w.history.oldest(count):
            key = held.key
            del index[key[3], key[2]]
        w.history.drop_oldest(count)
        base = w.base.revision
        if w.recent is not None and w.recent.revision <= base:
            w.recent = None
        # checkpoints are kept in ascending revision order (refold.py): the oldest go first
        if w.checkpoints and next(iter(w.checkpoints)) <= base:
            checkpoints = w.own_checkpoints()
            for revision in [r for r in checkpoints if r <= base]:
                del checkpoints[revision]
    if w.twins:
        forget_twins(w, floor)


def _prunable(w: Working, count: int) -> tuple[int, ProjectionState]:
    """How many of the `count` events past the floor are forgotten now, and the base after
    them. With `prune_at_checkpoints`, the step ends at a checkpoint revision (fewer than
    `CHECKPOINT_EVERY` events past the floor wait for the next one) or takes the whole
    history: the base is then a projection already known, and pruning folds nothing again.
    The decision depends on the log's content only, never on which states are cached."""
    if not count:
        return 0, w.base
    if count == len(w.history):
        return count, w.state
    if w.policy.prune_at_checkpoints:
        base = w.base.revision
        revision = (base + count) // CHECKPOINT_EVERY * CHECKPOINT_EVERY
        if revision <= base:
            return 0, w.base
        count = revision - base
        cached = w.checkpoints.get(revision)
        if cached is not None:
            return count, cached
    return count, state_after(w, count)


def forget_twins(w: Working, floor: int) -> None:
    """Forget dropped twins older than the retained history, as their kept twins are."""
    old = [ref for ref, held in w.twins.items() if held.key[0] < floor]
    if old:
        twins = w.twins.mutate()
        for ref in old:
            del twins[ref]
        w.twins = twins.finish()
        w.touched = True


def quiet(last_arrival: int | None, now_ms: int, policy: Policy) -> bool:
    """Whether nothing arrived for the horizon (in processing time)."""
    return last_arrival is not None and now_ms - last_arrival >= policy.horizon_ms


def compact(w: Working, now_ms: int) -> bool:
    """Keep only the final projection of a quiet ended task / logged-out agent."""
    if (
        w.buffer
        or not w.history
        or w.watermark is None
        or not quiet(w.last_arrival, now_ms, w.policy)
        or not w.spec.is_terminal(w.state)
    ):
        return False
    w.base = w.state
    w.history.clear()
    w.index = w.twins = NO_REFS
    w.checkpoints = NONE
    w.recent = None
    w.floor = w.watermark + 1
    return True
