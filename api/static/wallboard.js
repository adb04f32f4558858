// The supervisor wallboard: reads the query API with the token entered once, then follows
// the live stream (fetch + a small SSE reader, so the token goes in a header, never in a
// URL) and ticks the times every second. Filters come from the URL: ?team=a,b&queue=q
// (and from/to in epoch ms to show another window than today).
"use strict";
const TOKEN_KEY = "wxcc-wallboard-token";
const params = new URLSearchParams(location.search);
const filters = {};
for (const name of ["team", "queue", "from", "to"]) {
  if (params.get(name)) filters[name] = params.get(name);
}
const board = { agents: new Map(), aggregates: null, skewMs: 0, lastEventId: null,
  connected: false, refreshTimer: null };
const $ = (id) => document.getElementById(id);

function token() { return localStorage.getItem(TOKEN_KEY); }

function askToken(message) {
  $("board").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
}

$("login").addEventListener("submit", (e) => {
  e.preventDefault();
  localStorage.setItem(TOKEN_KEY, $("token").value.trim());
  $("login").hidden = true;
  start();
});

class Unauthorized extends Error {}

async function api(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${token()}` } });
  if (response.status === 401 || response.status === 403) {
    throw new Unauthorized((await response.json()).detail);
  }
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return { body: await response.json(), position: response.headers.get("X-Stream-Position") };
}

function query(names) {
  const q = new URLSearchParams();
  for (const n of names) if (filters[n]) q.set(n, filters[n]);
  const text = q.toString();
  return text ? `?${text}` : "";
}

async function loadAgents() {
  const agents = new Map();
  let cursor = null;
  const base = new URLSearchParams({ limit: "1000" });
  if (filters.team) base.set("team", filters.team);
  do {
    const q = new URLSearchParams(base);
    if (cursor) q.set("cursor", cursor);
    const { body, position } = await api(`/agents?${q}`);
    for (const doc of body.items) agents.set(doc.agentId, doc);
    cursor = body.next;
    if (!cursor) board.position = position;
  } while (cursor);
  return agents;
}

async function loadAggregates() {
  const { body } = await api(`/aggregates${query(["team", "queue", "from", "to"])}`);
  board.aggregates = body;
  board.skewMs = body.now - Date.now();
  render();
}

function scheduleAggregates() {
  if (board.refreshTimer) return;
  board.refreshTimer = setTimeout(() => {
    board.refreshTimer = null;
    loadAggregates().catch(failed);
  }, 500);
}

function now() { return Date.now() + board.skewMs; }

function duration(ms) {
  if (ms === null || ms === undefined) return "–";
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  if (h >= 48) return `${Math.floor(h / 24)}d ${two(h % 24)}:${two(m)}:${two(sec)}`;
  return h ? `${h}:${two(m)}:${two(sec)}` : `${m}:${two(sec)}`;
}

function element(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const c of children) el.append(c);
  return el;
}

function renderTeams() {
  const byTeam = new Map();
  for (const doc of board.agents.values()) {
    const team = doc.teamId || "(no team)";
    if (!byTeam.has(team)) byTeam.set(team, []);
    byTeam.get(team).push(doc);
  }
  const longIdle = board.aggregates ? board.aggregates.longIdleMs : 15 * 60 * 1000;
  const sections = [];
  for (const team of [...byTeam.keys()].sort()) {
    const docs = byTeam.get(team).sort((a, b) => a.state.localeCompare(b.state)
      || (a.stateSince || 0) - (b.stateSince || 0));
    const counts = {};
    for (const d of docs) counts[d.state] = (counts[d.state] || 0) + 1;
    const summary = Object.keys(counts).sort().map((s) => `${s} ${counts[s]}`).join(" · ");
    const tiles = docs.map((d) => {
      const inState = d.stateSince === null ? null : now() - d.stateSince;
      const classes = ["agent", `s-${d.state}`];
      if (d.state === "not-responding") classes.push("alert");
      if (d.state === "idle" && inState !== null && inState >= longIdle) classes.push("long-idle");
      return element("div", { class: classes.join(" "), "data-agent": d.agentId,
        "data-state": d.state, "data-since": d.stateSince === null ? "" : d.stateSince },
        element("div", { class: "state" }, d.state),
        element("div", { class: "time", "data-testid": "time-in-state" }, duration(inState)),
        element("div", { class: "id" }, d.agentId));
    });
    sections.push(element("div", { class: "team", "data-team": team },
      element("h2", {}, `Team ${team}`),
      element("div", { class: "summary", "data-testid": "team-summary" }, summary),
      element("div", { class: "agents" }, ...tiles)));
  }
  $("teams").replaceChildren(...sections);
}

function renderQueues() {
  const a = board.aggregates;
  if (!a) return;
  let waiting = 0, oldest = null;
  const tiles = a.queues.map((q) => {
    waiting += q.contactsInQueue;
    if (q.oldestQueuedSince !== null && (oldest === null || q.oldestQueuedSince < oldest)) {
      oldest = q.oldestQueuedSince;
    }
    return element("div", { class: `queue${q.contactsInQueue ? " waiting" : ""}`,
      "data-queue": q.queueId || "" },
      element("div", {}, `Queue ${q.queueId}`),
      element("div", { class: "big", "data-testid": "queue-waiting" }, String(q.contactsInQueue)),
      element("div", { "data-since": q.oldestQueuedSince ?? "", class: "wait" },
        `longest ${q.oldestQueuedSince === null ? "–" : duration(now() - q.oldestQueuedSince)}`),
      element("div", {}, `in progress ${q.contactsInProgress}`));
  });
  $("queues").replaceChildren(...tiles);
  $("kpi-queued").textContent = String(waiting);
  $("kpi-wait").textContent = oldest === null ? "–" : duration(now() - oldest);
  $("kpi-wait").dataset.since = oldest ?? "";
  const t = a.tasks;
  $("kpi-handled").textContent = String(t.totalAcceptedTasks);
  $("kpi-abandoned").textContent = String(t.totalAbandonedTasks);
  $("kpi-aht").textContent = duration(t.averageHandledTime);
  $("kpi-sl").textContent = t.serviceLevelThresholdPercentage === null ? "–"
    : `${Math.round(t.serviceLevelThresholdPercentage)}%`;
  const w = a.window;
  $("window").textContent = `${new Date(w.from).toISOString()} – ${new Date(w.to).toISOString()}`
    + ` (${w.timeZone}); service level: answered within ${a.serviceLevelThresholdMs / 1000} s`;
}

function renderFreshness() {
  const f = board.aggregates && board.aggregates.freshness;
  const el = $("freshness");
  if (!f) return;
  // red when the stream is down, or the newest event is older than staleAfterMs: what the
  // board shows is then not the contact center as it is now
  const lag = f.newestEventTime === null ? Infinity : now() - f.newestEventTime;
  const stale = !board.connected || lag > f.staleAfterMs;
  el.classList.toggle("stale", stale);
  const newest = f.newestEventTime === null ? "no events yet"
    : `newest event ${new Date(f.newestEventTime).toISOString().replace("T", " ").slice(0, 19)}`
      + `, lag ${duration(now() - f.newestEventTime)}`;
  el.textContent = (board.connected ? "" : "disconnected · ") + newest;
  el.dataset.stale = String(stale);
}

function render() {
  renderTeams();
  renderQueues();
  renderFreshness();
}

function tick() {
  for (const tile of document.querySelectorAll(".agent[data-since]")) {
    const since = tile.dataset.since;
    if (since) tile.querySelector(".time").textContent = duration(now() - Number(since));
  }
  for (const wait of document.querySelectorAll(".queue .wait")) {
    if (wait.dataset.since) wait.textContent = `longest ${duration(now() - Number(wait.dataset.since))}`;
  }
  const since = $("kpi-wait").dataset.since;
  if (since) $("kpi-wait").textContent = duration(now() - Number(since));
  renderFreshness();
}

function onEvent(name, id, data) {
  if (id) board.lastEventId = id;
  if (name === "reset") { reload(); return; }
  if (name === "agent") {
    board.agents.set(data.key, data.document);
    const t = data.document.lastEventTime;
    const f = board.aggregates && board.aggregates.freshness;
    if (f && t !== null && (f.newestEventTime === null || t > f.newestEventTime)) {
      f.newestEventTime = t;
    }
    renderTeams();
    scheduleAggregates();
  } else if (name === "task") {
    scheduleAggregates();
  }
}

async function follow() {
  const q = new URLSearchParams();
  if (filters.team) q.set("team", filters.team);
  if (filters.queue) q.set("queue", filters.queue);
  const headers = { Authorization: `Bearer ${token()}`, Accept: "text/event-stream" };
  if (board.lastEventId) headers["Last-Event-ID"] = board.lastEventId;
  const response = await fetch(`/stream?${q}`, { headers });
  if (response.status === 401 || response.status === 403) {
    throw new Unauthorized((await response.json()).detail);
  }
  if (!response.ok) throw new Error(`stream: ${response.status}`);
  board.connected = true;
  renderFreshness();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer = (buffer + value).replace(/\r\n/g, "\n");  // aiohttp-sse ends lines with CRLF
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message", id = null, data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("id: ")) id = line.slice(4);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (data) onEvent(name, id, JSON.parse(data));
    }
  }
}

async function followForever() {
  for (;;) {
    try {
      await follow();
    } catch (e) {
      if (e instanceof Unauthorized) { askToken(e.message); return; }
      console.warn("stream interrupted, reconnecting:", e);
    }
    board.connected = false;
    renderFreshness();
    await new Promise((r) => setTimeout(r, 2000));
  }
}

async function reload() {
  board.agents = await loadAgents();
  board.lastEventId = board.position;
  await loadAggregates();
}

function failed(e) {
  if (e instanceof Unauthorized) askToken(e.message);
  else console.error(e);
}

async function start() {
  if (!token()) { askToken(); return; }
  $("filters").textContent = Object.keys(filters).length
    ? Object.entries(filters).map(([k, v]) => `${k}: ${v}`).join(" · ") : "all teams and queues";
  try {
    await reload();
  } catch (e) {
    failed(e);
    return;
  }
  $("board").hidden = false;
  followForever();
}

setInterval(tick, 1000);
setInterval(() => { if (board.aggregates) loadAggregates().catch(failed); }, 15000);
start();
