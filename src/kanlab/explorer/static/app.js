// kanlab explorer page: every request carries the launch token in a header; all text from the
// server is set with textContent (never parsed as HTML); images are fetched and shown as blobs.
"use strict";
const TOKEN = document.querySelector('meta[name="kanlab-token"]').content;
const $ = (id) => document.getElementById(id);
let selected = null; // {l, i, j}
let polling = null;

async function api(path, body) {
  const opts = { headers: { "X-Kanlab-Token": TOKEN } };
  if (body !== undefined) {
    opts.method = "POST";
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  const type = r.headers.get("content-type") || "";
  if (!r.ok) {
    const err = type.includes("json") ? (await r.json()).error : await r.text();
    throw new Error(err);
  }
  return type.includes("json") ? r.json() : r.blob();
}

function say(text, isError) {
  $("message").textContent = text;
  $("message").className = isError ? "error" : "";
}

async function showImage(img, path) {
  const blob = await api(path);
  if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(blob);
}

const fmt = (v) => (v === null || v === undefined ? "–" : Number(v).toPrecision(4));

function renderState(s) {
  const m = s.metrics;
  $("net-rmse").textContent = fmt(m.network_rmse); $("net-r2").textContent = fmt(m.network_r2);
  $("f-rmse").textContent = fmt(m.formula_rmse); $("f-r2").textContent = fmt(m.formula_r2);
  $("metrics-data").textContent = m.data ? `on the ${m.data} data; ${m.n_symbolic} symbolic, ${m.n_numeric} numeric edges` : "";
  $("formula-text").textContent = m.formula ? m.formula.map((f) => `${s.target} = ${f}`).join("\n") : (m.formula_error || "");
  $("undo").disabled = !s.history.can_undo; $("redo").disabled = !s.history.can_redo;
  const hist = $("history"); hist.replaceChildren();
  s.history.states.forEach((st, k) => {
    const li = document.createElement("li");
    li.textContent = `${st.action} — network RMSE ${fmt(st.metrics.network_rmse)}, formula RMSE ${fmt(st.metrics.formula_rmse)}`;
    if (k === s.history.position) li.className = "current";
    hist.appendChild(li);
  });
  const lib = $("library");
  if (!lib.children.length) s.library.forEach((n) => { const o = document.createElement("option"); o.value = n; lib.appendChild(o); });
  renderPareto(s.pareto);
  renderJob(s.job);
}

function renderPareto(rows) {
  $("pareto-wrap").hidden = !rows;
  if (!rows) return;
  const body = $("pareto").querySelector("tbody"); body.replaceChildren();
  rows.forEach((r) => {
    const tr = document.createElement("tr");
    [r.chosen ? "*" : "", String(r.complexity), fmt(r.rmse), r.pipeline, r.formula].forEach((text) => {
      const td = document.createElement("td"); td.textContent = text; tr.appendChild(td);
    });
    body.appendChild(tr);
  });
}

async function refresh() {
  try {
    const s = await api("/api/state");
    renderState(s);
    await Promise.all([showImage($("diagram"), "/api/diagram.png"), showImage($("formula"), "/api/formula.png"), loadSpots()]);
    if (selected) await openEdge(selected, true);
  } catch (e) { say(e.message, true); }
}

async function loadSpots() {
  const { spots } = await api("/api/diagram/spots");
  const box = $("spots"); box.replaceChildren();
  spots.forEach((sp) => {
    const b = document.createElement("button");
    b.type = "button";
    b.title = `edge (${sp.l},${sp.i},${sp.j})`;
    b.dataset.edge = `${sp.l},${sp.i},${sp.j}`;
    Object.assign(b.style, { left: `${100 * sp.left}%`, top: `${100 * sp.top}%`, width: `${100 * sp.width}%`, height: `${100 * sp.height}%` });
    b.addEventListener("click", () => openEdge({ l: sp.l, i: sp.i, j: sp.j }));
    box.appendChild(b);
  });
}

async function openEdge(e, quiet) {
  const q = `l=${e.l}&i=${e.i}&j=${e.j}`;
  let detail;
  try { detail = await api(`/api/edge?${q}`); } catch (err) {
    selected = null; $("edge").hidden = true; $("edge-empty").hidden = false;
    if (!quiet) say(err.message, true);
    return;
  }
  selected = e;
  document.querySelectorAll("#spots button").forEach((b) => b.classList.toggle("selected", b.dataset.edge === `${e.l},${e.i},${e.j}`));
  $("edge-empty").hidden = true; $("edge").hidden = false;
  const c = detail.curve;
  $("edge-title").textContent = `Edge (${e.l},${e.i},${e.j}) — importance ${fmt(c.importance)}` + (c.symbolic ? ` — symbolic: ${c.symbolic}` : "");
  $("unfix").disabled = !c.symbolic;
  const body = $("candidates").querySelector("tbody"); body.replaceChildren();
  detail.candidates.forEach((cand) => {
    const tr = document.createElement("tr");
    [cand.name, fmt(cand.r2), String(cand.complexity), cand.params.map(fmt).join(", ")].forEach((t) => {
      const td = document.createElement("td"); td.textContent = t; tr.appendChild(td);
    });
    const td = document.createElement("td"); const b = document.createElement("button");
    b.type = "button"; b.textContent = "Fix"; b.className = "fix-candidate"; b.dataset.name = cand.name;
    b.addEventListener("click", () => act("fix", { ...e, name: cand.name, params: cand.params }));
    td.appendChild(b); tr.appendChild(td); body.appendChild(tr);
  });
  await showImage($("edge-plot"), `/api/edge.png?${q}`);
}

async function act(action, body) {
  say(`${action}…`);
  try {
    const out = await api(`/api/action/${action}`, body || {});
    if (out.job) { startPolling(); return; }
    say(`${action}: done`);
    await refresh();
  } catch (e) { say(e.message, true); }
}

function drawLoss(losses) {
  const cv = $("loss"), ctx = cv.getContext("2d");
  ctx.clearRect(0, 0, cv.width, cv.height);
  const vals = losses.filter((v) => v > 0).map(Math.log10);
  if (vals.length < 2) return;
  const lo = Math.min(...vals), hi = Math.max(...vals), span = hi - lo || 1;
  ctx.beginPath();
  vals.forEach((v, k) => {
    const x = 5 + (k / (vals.length - 1)) * (cv.width - 10), y = 5 + (1 - (v - lo) / span) * (cv.height - 10);
    if (k) ctx.lineTo(x, y); else ctx.moveTo(x, y);
  });
  ctx.strokeStyle = "#1f77b4"; ctx.stroke();
  ctx.fillText(`train RMSE ${Math.pow(10, vals[vals.length - 1]).toPrecision(3)}`, 8, 14);
}

function renderJob(job) {
  const running = job && job.status === "running";
  $("cancel").disabled = !running;
  if (!job) return;
  $("progress").max = Math.max(job.total, 1); $("progress").value = job.done;
  drawLoss(job.losses);
}

function startPolling() {
  if (polling) return;
  polling = setInterval(async () => {
    try {
      const { job } = await api("/api/job");
      renderJob(job);
      say(`${job.action}: ${job.status} (${job.done}/${job.total})` + (job.error ? ` — ${job.error}` : ""), job.status === "failed");
      if (job.status !== "running") { clearInterval(polling); polling = null; await refresh(); }
    } catch (e) { clearInterval(polling); polling = null; say(e.message, true); }
  }, 400);
}

async function download(what) {
  try {
    const blob = await api(`/api/export/${what}`);
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob); a.download = what; a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 5000);
    if (what.startsWith("formula")) $("formula-text").textContent = await blob.text();
    say(`exported ${what}`);
  } catch (e) { say(e.message, true); }
}

const int = (id) => Number.parseInt($(id).value, 10);
document.addEventListener("DOMContentLoaded", () => {
  $("undo").addEventListener("click", () => act("undo"));
  $("redo").addEventListener("click", () => act("redo"));
  $("auto").addEventListener("click", () => act("auto_symbolic"));
  $("refine").addEventListener("click", () => act("refine", { grid: int("grid") }));
  $("retrain").addEventListener("click", () => act("retrain", { steps: int("steps") }));
  $("cancel").addEventListener("click", () => act("cancel"));
  $("unfix").addEventListener("click", () => selected && act("unfix", selected));
  $("prune-edge").addEventListener("click", () => selected && act("prune_edge", selected));
  $("fix-typed").addEventListener("click", () => selected && act("fix", { ...selected, name: $("fix-name").value }));
  $("prune-node").addEventListener("click", () => act("prune_node", { l: int("node-l"), j: int("node-j") }));
  document.querySelectorAll("#exports button").forEach((b) => b.addEventListener("click", () => download(b.dataset.export)));
  refresh();
});
