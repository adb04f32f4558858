"""A small discrete-event simulation of a contact center's day.

Time advances through a heap of (time, sequence, action). Each task is a generator that
yields `Sleep` (wait) or `ROUTE` (wait in its queue until an agent is chosen, or until
the customer gives up); agents are state machines driven by timed actions. Timed agent
actions carry the agent's `epoch` when scheduled and do nothing if the agent changed mode
since, which is how a break, a RONA recovery or a pending "available" is cancelled.

Everything random comes from a `random.Random` seeded from the config, and every
collection that is iterated is ordered (lists, dicts), so a seed gives one outcome.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Generator
from functools import partial

from wxcc_stream.devtools.scenario.config import MINUTE_MS, Range, ScenarioConfig
from wxcc_stream.devtools.scenario.directory import Code, Directory, new_uuid
from wxcc_stream.devtools.scenario.model import (
    CHAT,
    ROUTE,
    TELEPHONY,
    Agent,
    Command,
    Handling,
    Mode,
    Process,
    Sleep,
    Task,
    can_take,
)
from wxcc_stream.devtools.scenario.planning import plan_shifts, plan_tasks
from wxcc_stream.devtools.scenario.recorder import Recorder
from wxcc_stream.devtools.scenario.vocabulary import (
    AVAILABLE,
    CONFERENCING,
    CONNECTED,
    CONSULT_DONE,
    CONSULTING,
    HOLD_DONE,
    IDLE,
    NOT_RESPONDING,
    ON_HOLD,
    RINGING,
    TASK_CONFERENCE_DONE,
    TASK_CONFERENCING,
    TASK_CONNECT,
    TASK_CONNECTED,
    TASK_CONSULT_DONE,
    TASK_CONSULTING,
    TASK_ENDED,
    TASK_HOLD_DONE,
    TASK_NEW,
    TASK_ON_HOLD,
    TASK_PARKED,
    WRAPUP,
    WRAPUP_DONE,
)

BREAK_CODES = ("Break", "Lunch", "Meeting", "Training", "Not Ready")
LOGIN_CODES = ("Not Ready", "Meeting", "Training")
_HOLD, _CONSULT, _CONFERENCE = "hold", "consult", "conference"
_SAME_MS_FRACTION = 0.25  # share of "immediately after" steps that share the ms


class Simulation:
    """One run of the model; `run()` once, then read `recorder`."""

    def __init__(self, config: ScenarioConfig, directory: Directory) -> None:
        self.config = config
        self.timings = config.timings
        self.directory = directory
        self.recorder = Recorder(config)
        self.rng = random.Random(f"wxcc-simulation:{config.seed}")
        self._names = random.Random(f"wxcc-entities:{config.seed}")
        self.now = config.start_ms
        self._heap: list[tuple[int, int, Callable[[], None]]] = []
        self._seq = 0
        self._enqueued = 0
        self._pending_logins = 0
        self._closed = False
        self._waiting: dict[str, list[Task]] = {queue.id: [] for queue in directory.queues}
        self._agents: list[Agent] = []
        self._queue_agents: dict[str, list[Agent]] = {}
        self._ready: dict[int, Agent] = {}  # agents in Mode.READY, by index
        self._codes = {code.name: code for code in directory.idle_codes}

    # --- driver -------------------------------------------------------------------------

    def run(self) -> None:
        """Schedule the day and play it to the end (every agent logged out, tasks ended)."""
        self._plan_agents()
        self._plan_tasks()
        while self._heap:
            t, _, action = heapq.heappop(self._heap)
            self.now = t
            action()

    def _at(self, t: int, action: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, action))

    def _after(self, ms: int, action: Callable[[], None]) -> None:
        self._at(self.now + ms, action)

    def _draw(self, bounds: Range) -> int:
        return self.rng.randint(bounds[0], bounds[1])

    def _draw_or_now(self, bounds: Range) -> int:
        """A delay that is 0 (same millisecond) on a fraction of draws."""
        return 0 if self.rng.random() < _SAME_MS_FRACTION else self._draw(bounds)

    # --- planning -----------------------------------------------------------------------

    def _plan_agents(self) -> None:
        queues = self.directory.queues
        for index, (profile, shift) in enumerate(
            zip(self.directory.agents, plan_shifts(self.config, self.rng), strict=True)
        ):
            serves = tuple(q.id for q in queues if profile.team_id in q.team_ids)
            agent = Agent(profile, index, serves, shift.end, shift.relogin_at)
            self._agents.append(agent)
            agent.login_pending = True
            self._pending_logins += 1
            self._at(shift.login_at, partial(self._login, agent))
            self._at(shift.end, partial(self._shift_end, agent))
            if shift.relogin_at is not None:
                self._at(shift.relogin_at, partial(self._relogin_due, agent))
        for queue in queues:
            serving = [a for a in self._agents if queue.id in a.queues]
            self._queue_agents[queue.id] = serving or list(self._agents)
        # A queue no team serves is served by everybody; the agents must know it too.
        for agent in self._agents:
            agent.queues = tuple(q.id for q in queues if agent in self._queue_agents[q.id])

    def _plan_tasks(self) -> None:
        for arrival, task in plan_tasks(self.config, self.directory, self.rng, self._names):
            self._at(arrival, partial(self._start_task, task))

    # --- tasks --------------------------------------------------------------------------

    def _start_task(self, task: Task) -> None:
        task.proc = self._task_process(task)
        self._resume(task, None)

    def _resume(self, task: Task, value: Agent | None) -> None:
        assert task.proc is not None
        try:
            command = task.proc.send(value)
        except StopIteration:
            return
        if isinstance(command, Sleep):
            self._after(command.ms, partial(self._resume, task, None))
        else:
            self._enqueue(task)

    def _enqueue(self, task: Task) -> None:
        if self._closed:
            self._at(self.now, partial(self._resume, task, None))
            return
        task.waiting = True
        task.wait_epoch += 1
        self._enqueued += 1
        task.enqueue_seq = self._enqueued
        self._waiting[task.queue_id].append(task)
        self._after(self._draw(task.patience), partial(self._give_up, task, task.wait_epoch))
        self._route_task(task)

    def _give_up(self, task: Task, epoch: int) -> None:
        if task.waiting and task.wait_epoch == epoch:
            self._unqueue(task)
            self._resume(task, None)

    def _unqueue(self, task: Task) -> None:
        self._waiting[task.queue_id].remove(task)
        task.waiting = False
        task.wait_epoch += 1

    def _task_process(self, task: Task) -> Process:
        """One task's life: new, queued, offered (maybe refused), handled, ended, captured."""
        config, timings, rec = self.config, self.timings, self.recorder
        rec.task_event(task, TASK_NEW, self.now)
        if task.parks:
            yield Sleep(self._draw_or_now(timings.park_delay))
            rec.task_event(task, TASK_PARKED, self.now)
        ronas_left = 3 if task.parks else 0
        while True:
            agent = yield ROUTE
            if agent is None:
                rec.task_event(task, TASK_ENDED, self.now, ended=("Customer", "Customer left"))
                return
            yield Sleep(self._draw(timings.route_delay))
            agent.reserved, agent.ringing = None, task.id
            rec.task_event(task, TASK_CONNECT, self.now)
            self._report(agent, RINGING, task)
            if ronas_left and self.rng.random() < config.rona_probability:
                ronas_left -= 1
                yield Sleep(self._draw(timings.ring_timeout))
                self._not_responding(agent, task)
                rec.task_event(task, TASK_PARKED, self.now)
                continue
            ring = timings.ring_telephony if task.channel == TELEPHONY else timings.ring_digital
            yield Sleep(self._draw(ring))
            agent.ringing = None
            agent.active[task.id] = task.channel
            task.connected_once = True
            rec.task_event(task, TASK_CONNECTED, self.now)
            self._report(agent, CONNECTED, task)
            if agent.mode is Mode.READY:
                self._route_agent(agent)
            transferred = yield from self._handle(task, agent)
            if not transferred:
                break
        if (
            task.channel == TELEPHONY
            and task.connected_once
            and self.rng.random() < config.capture_probability
        ):
            extra = (task.consulted or task.transferred) and self.rng.random() < 0.5
            for _ in range(2 if extra else 1):
                yield Sleep(self._draw(timings.capture))
                rec.capture(task, self.now, self._file_path(task))

    def _handle(self, task: Task, agent: Agent) -> Handling:
        """The connected part: talk, holds, consults, conferences; then end or transfer."""
        config, timings, rng, rec = self.config, self.timings, self.rng, self.recorder
        steps: list[str] = []
        if task.channel == TELEPHONY:
            if rng.random() < config.hold_probability:
                steps += [_HOLD] * (1 + (rng.random() < 0.35) + (rng.random() < 0.1))
            if rng.random() < config.consult_probability:
                steps.append(_CONSULT)
            if rng.random() < config.conference_probability:
                steps.append(_CONFERENCE)
            rng.shuffle(steps)
        # A transfer re-queues the task; an autodialled call (never queued) is not
        # transferred, so its queue wait stays measured from task:new.
        transfer = (
            task.parks and not task.transferred and rng.random() < config.transfer_probability
        )
        hang_up_on_hold = (
            not transfer
            and bool(steps)
            and steps[-1] == _HOLD
            and rng.random() < config.end_on_hold_probability
        )
        talk = self._draw(
            {
                TELEPHONY: timings.talk_telephony,
                CHAT: timings.talk_chat,
                "email": timings.talk_email,
                "social": timings.talk_social,
            }[task.channel]
        )
        gaps = self._split(talk, len(steps) + 1)
        for index, step in enumerate(steps):
            yield Sleep(gaps[index])
            if step == _HOLD:
                rec.task_event(task, TASK_ON_HOLD, self.now)
                self._report(agent, ON_HOLD, task)
                yield Sleep(self._draw(timings.hold))
                if hang_up_on_hold and index == len(steps) - 1:
                    self._end(task, agent)
                    return False
                rec.task_event(task, TASK_HOLD_DONE, self.now)
                self._report(agent, HOLD_DONE, task)
            else:
                yield from self._consult(task, agent, conference=step == _CONFERENCE)
        yield Sleep(gaps[-1])
        if transfer:
            task.transferred = True
            self._start_wrapup(agent, task)
            task.queue_id = rng.choice(self.directory.queues).id
            rec.task_event(task, TASK_PARKED, self.now)
            return True
        self._end(task, agent)
        return False

    def _consult(
        self, task: Task, agent: Agent, *, conference: bool
    ) -> Generator[Command, Agent | None, None]:
        """Consult another agent (customer on hold), maybe turning it into a conference."""
        timings, rec = self.timings, self.recorder
        partner = self._pick_partner(agent)
        if partner is None:
            return
        partner.reserved = task.id
        task.consulted = True
        rec.task_event(task, TASK_CONSULTING, self.now)
        self._report(agent, CONSULTING, task)
        yield Sleep(self._draw(timings.consult_offer))
        partner.reserved, partner.ringing = None, task.id
        self._report(partner, RINGING, task)
        yield Sleep(self._draw(timings.consult_ring))
        partner.ringing = None
        partner.active[task.id] = TELEPHONY
        self._report(partner, CONNECTED, task)
        yield Sleep(self._draw(timings.consult))
        if conference:
            rec.task_event(task, TASK_CONFERENCING, self.now)
            at = self._report(agent, CONFERENCING, task)
            shared = self.config.shared_conference_probability
            if shared and self.rng.random() < shared:
                self._report(partner, CONFERENCING, task, at=at)
            yield Sleep(self._draw(timings.conference))
            rec.task_event(task, TASK_CONFERENCE_DONE, self.now)
            self._report(agent, CONNECTED, task)
        else:
            rec.task_event(task, TASK_CONSULT_DONE, self.now)
            self._report(agent, CONSULT_DONE, task)
        self._start_wrapup(partner, task)

    def _end(self, task: Task, agent: Agent) -> None:
        party = "Customer" if self.rng.random() < 0.7 else "Agent"
        self.recorder.task_event(task, TASK_ENDED, self.now, ended=(party, f"{party} left"))
        self._start_wrapup(agent, task)

    def _split(self, total: int, parts: int) -> list[int]:
        weights = [self.rng.random() + 0.05 for _ in range(parts)]
        scale = total / sum(weights)
        return [max(1, int(w * scale)) for w in weights]

    def _file_path(self, task: Task) -> str:
        return (
            f"https://recordings.wxcc-us1.cisco.com/{self.config.org_id}/{task.id}/"
            f"{new_uuid(self._names)}.wav"
        )

    # --- routing ------------------------------------------------------------------------

    def _can_take(self, agent: Agent, channel: str) -> bool:
        return can_take(agent, channel, self.config)

    def _route_task(self, task: Task) -> None:
        """Offer a newly queued task to the longest-available eligible agent, if any."""
        best: Agent | None = None
        queue_id, channel, config = task.queue_id, task.channel, self.config
        for agent in self._ready.values():
            # The cheap tests first: this loop is the generator's hot spot.
            if (
                agent.reserved is not None
                or agent.ringing is not None
                or queue_id not in agent.queues
                or (
                    best is not None
                    and (agent.ready_since, agent.index) > (best.ready_since, best.index)
                )
            ):
                continue
            if can_take(agent, channel, config):
                best = agent
        if best is not None:
            self._match(task, best)

    def _route_agent(self, agent: Agent) -> None:
        """Give an agent that just became eligible the oldest queued task it can take."""
        best: Task | None = None
        for queue_id in agent.queues:
            for task in self._waiting[queue_id]:
                if self._can_take(agent, task.channel):
                    if best is None or task.enqueue_seq < best.enqueue_seq:
                        best = task
                    break
        if best is not None:
            self._match(best, agent)

    def _match(self, task: Task, agent: Agent) -> None:
        self._unqueue(task)
        agent.reserved = task.id
        self._at(self.now, partial(self._resume, task, agent))

    def _pick_partner(self, agent: Agent) -> Agent | None:
        """The longest-available other agent who could take a call now."""
        best: Agent | None = None
        for other in self._ready.values():
            if (
                other is not agent
                and self._can_take(other, TELEPHONY)
                and (
                    best is None
                    or (other.ready_since, other.index) < (best.ready_since, best.index)
                )
            ):
                best = other
        return best

    # --- agents -------------------------------------------------------------------------

    def _report(
        self,
        agent: Agent,
        state: str,
        task: Task | None = None,
        *,
        idle_code: Code | None = None,
        wrapup_code: Code | None = None,
        at: int | None = None,
    ) -> int:
        """Report the agent's state now, or `at` the very ms another agent of the task did."""
        task_ids = ((agent.ringing,) if agent.ringing is not None else ()) + tuple(agent.active)
        channels = sorted({agent.profile.channel_id(c) for c in agent.active.values()})
        t = self.recorder.agent_state(
            agent.profile,
            self.now if at is None else at,
            state,
            task=task,
            task_ids=task_ids,
            channels=channels,
            idle_code=idle_code,
            wrapup_code=wrapup_code,
            shared_instant=at is not None,
        )
        agent.reported_in_session = True
        return t

    def _set_mode(self, agent: Agent, mode: Mode) -> int:
        agent.mode = mode
        agent.epoch += 1
        if mode is Mode.READY:
            self._ready[agent.index] = agent
        else:
            self._ready.pop(agent.index, None)
        return agent.epoch

    def _login(self, agent: Agent) -> None:
        if not agent.login_pending:
            return
        agent.login_pending = False
        self._pending_logins -= 1
        code = self._codes[self.rng.choice(LOGIN_CODES)]
        agent.idle_code = code
        agent.reported_in_session = False
        self.recorder.login(agent.profile, self.now, code)
        epoch = self._set_mode(agent, Mode.NOT_READY)
        self._after(
            self._draw_or_now(self.timings.login_ready), partial(self._become_ready, agent, epoch)
        )

    def _become_ready(self, agent: Agent, epoch: int) -> None:
        """End of an idle period (login, break, RONA): available again, or log out/in."""
        if agent.epoch != epoch:
            return
        if agent.relogin_at is not None and self.now >= agent.relogin_at and not agent.busy:
            self._relogin(agent)
            return
        self._report(agent, AVAILABLE)
        self._set_mode(agent, Mode.READY)
        agent.ready_since = self.now
        self._route_agent(agent)

    def _go_idle(self, agent: Agent, epoch: int, code: Code, duration: int) -> None:
        if agent.epoch != epoch:
            return
        agent.idle_code = code
        self._report(agent, IDLE, idle_code=code)
        epoch = self._set_mode(agent, Mode.NOT_READY)
        self._after(duration, partial(self._become_ready, agent, epoch))

    def _idle_again(self, agent: Agent, epoch: int) -> None:
        """Still not ready after finishing a task: report the idle state again."""
        if agent.epoch == epoch:
            self._report(agent, IDLE, idle_code=agent.idle_code)

    def _not_responding(self, agent: Agent, task: Task) -> None:
        """RONA: the offer timed out; the agent is made idle with the RONA code."""
        agent.ringing = None
        self._report(agent, NOT_RESPONDING, task)
        epoch = agent.epoch
        if agent.mode is Mode.READY:
            epoch = self._set_mode(agent, Mode.NOT_READY)
        self._after(self._draw(self.timings.rona_idle), partial(self._rona_idle, agent, epoch))

    def _rona_idle(self, agent: Agent, epoch: int) -> None:
        if agent.epoch != epoch:
            return
        agent.idle_code = self._codes["RONA"]
        self._report(agent, IDLE, idle_code=agent.idle_code)
        if agent.mode is Mode.LEAVING:
            if not agent.busy:
                self._logout_sequence(agent)
            return
        self._after(
            self._draw(self.timings.rona_recover), partial(self._become_ready, agent, epoch)
        )

    def _start_wrapup(self, agent: Agent, task: Task) -> None:
        agent.wrapping[task.id] = None
        self._report(agent, WRAPUP, task)
        code = self.rng.choice(self.directory.wrapup_codes)
        self._after(self._draw(self.timings.wrapup), partial(self._wrapup_done, agent, task, code))

    def _wrapup_done(self, agent: Agent, task: Task, code: Code) -> None:
        del agent.wrapping[task.id]
        del agent.active[task.id]
        self._report(agent, WRAPUP_DONE, task, wrapup_code=code)
        agent.ready_since = self.now
        self._after_work(agent)

    def _after_work(self, agent: Agent) -> None:
        """The agent finished a task: take more work, report available/idle, or leave."""
        if agent.busy:
            if agent.mode is Mode.READY:
                self._route_agent(agent)
            return
        mode, delay = agent.mode, self._draw(self.timings.after_wrapup)
        if mode is Mode.LEAVING:
            self._logout_sequence(agent)
        elif mode is Mode.NOT_READY:
            self._after(delay, partial(self._idle_again, agent, agent.epoch))
        elif mode is Mode.READY:
            if agent.relogin_at is not None and self.now >= agent.relogin_at:
                self._relogin(agent)
                return
            epoch = self._set_mode(agent, Mode.PENDING)
            if self.rng.random() < self.config.break_probability:
                code = self._codes[self.rng.choice(BREAK_CODES)]
                duration = self._draw(self.timings.break_)
                self._after(delay, partial(self._go_idle, agent, epoch, code, duration))
            else:
                self._after(delay, partial(self._become_ready, agent, epoch))

    def _shift_end(self, agent: Agent) -> None:
        if agent.mode is Mode.OFF:
            if agent.login_pending:  # a relogin that will not happen any more
                agent.login_pending = False
                self._pending_logins -= 1
                self._check_close()
            return
        if agent.mode is Mode.EXITING:
            return
        self._set_mode(agent, Mode.LEAVING)
        if not agent.busy:
            self._logout_sequence(agent)

    def _relogin_due(self, agent: Agent) -> None:
        if agent.mode is Mode.READY and not agent.busy and agent.relogin_at is not None:
            self._relogin(agent)

    def _relogin(self, agent: Agent) -> None:
        agent.relogin_at = None
        self._logout_sequence(agent, then_login=True)

    def _logout_sequence(self, agent: Agent, *, then_login: bool = False) -> None:
        """Optionally report idle, then log out (and maybe log in again later)."""
        self._set_mode(agent, Mode.EXITING)
        delay = self._draw(self.timings.after_wrapup)
        if not agent.reported_in_session or self.rng.random() < 0.5:
            name = self.rng.choice(BREAK_CODES) if then_login else "End of Shift"
            self._after(
                delay, partial(self._idle_then_logout, agent, self._codes[name], then_login)
            )
        else:
            self._after(delay, partial(self._logout, agent, then_login))

    def _idle_then_logout(self, agent: Agent, code: Code, then_login: bool) -> None:
        agent.idle_code = code
        self._report(agent, IDLE, idle_code=code)
        self._after(
            self._draw_or_now(self.timings.logout_gap), partial(self._logout, agent, then_login)
        )

    def _logout(self, agent: Agent, then_login: bool) -> None:
        by = "SELF" if self.rng.random() < 0.9 else "SUPERVISOR"
        self.recorder.logout(agent.profile, self.now, by)
        self._set_mode(agent, Mode.OFF)
        if then_login:
            login_at = self.now + self._draw(self.timings.relogin_gap)
            if login_at + 5 * MINUTE_MS < agent.shift_end:
                agent.login_pending = True
                self._pending_logins += 1
                self._at(login_at, partial(self._login, agent))
        self._check_close()

    def _check_close(self) -> None:
        """When the last agent has gone for the day, queued customers give up."""
        if (
            self._closed
            or self._pending_logins
            or any(a.mode is not Mode.OFF for a in self._agents)
        ):
            return
        self._closed = True
        for queue_id in self._waiting:
            for task in list(self._waiting[queue_id]):
                self._unqueue(task)
                self._after(
                    self._draw(self.timings.close_abandon), partial(self._resume, task, None)
                )
