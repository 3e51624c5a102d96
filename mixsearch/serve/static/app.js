// The search page: plain JS talking to the JSON API of this server (nothing from the network).
"use strict";
const K = 12;
const state = { mode: null, q: "", image: null, like: null, offset: 0, modality: "" };
const $ = (id) => document.getElementById(id);

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

let latest = 0;  // answers to superseded searches (a filter click, then a drop) are dropped

async function runSearch() {
  let response;
  const started = performance.now();
  const mine = ++latest;
  setStatus("searching…");
  try {
    if (state.mode === "image") {
      const form = new FormData();
      form.append("image", state.image, state.image.name || "image");
      form.append("k", K); form.append("offset", state.offset);
      if (state.modality) form.append("modality", state.modality);
      response = await fetch("/api/search", { method: "POST", body: form });
    } else {
      const params = new URLSearchParams({ k: K, offset: state.offset });
      if (state.mode === "like") params.set("like", state.like); else params.set("q", state.q);
      if (state.modality) params.set("modality", state.modality);
      response = await fetch("/api/search?" + params);
    }
    const payload = await response.json();
    if (mine !== latest) return;
    if (!response.ok) { setStatus(payload.error || response.statusText, true); return; }
    render(payload.results[0], performance.now() - started);
  } catch (err) {
    if (mine === latest) setStatus("the server did not answer: " + err, true);
  }
}

function render(result, ms) {
  const grid = $("results");
  grid.replaceChildren(...result.hits.map(card));
  const what = state.mode === "image" ? "image " + (state.image.name || "") :
               state.mode === "like" ? "more like " + state.like : "“" + state.q + "”";
  setStatus(result.hits.length ? `${what}: results ${state.offset + 1}–${state.offset + result.hits.length} (${Math.round(ms)} ms)`
                               : `${what}: no results`);
  $("pager").hidden = state.offset === 0 && result.next_offset === null;
  $("prev").disabled = state.offset === 0;
  $("next").disabled = result.next_offset === null;
  $("page").textContent = `page ${Math.floor(state.offset / K) + 1}`;
}

function card(hit) {
  const el = document.createElement("article");
  el.className = "card";
  el.dataset.id = hit.id;
  if (hit.thumbnail) {
    const img = document.createElement("img");
    img.src = hit.thumbnail; img.alt = hit.id; img.loading = "lazy";
    el.append(img);
  }
  const body = document.createElement("div");
  body.className = "body";
  const meta = document.createElement("div");
  meta.className = "meta";
  const badge = document.createElement("span");
  badge.className = "badge " + hit.modality; badge.textContent = hit.modality;
  const score = document.createElement("span");
  score.className = "score"; score.textContent = `#${hit.rank} · ${hit.score.toFixed(3)}`;
  meta.append(badge, score);
  body.append(meta);
  if (hit.text) {
    const p = document.createElement("p");
    p.className = "snippet"; p.textContent = hit.text;
    body.append(p);
  }
  const id = document.createElement("span");
  id.className = "id"; id.textContent = hit.id;
  const like = document.createElement("button");
  like.type = "button"; like.className = "like"; like.textContent = "More like this";
  like.addEventListener("click", () => { startSearch({ mode: "like", like: hit.id }); window.scrollTo(0, 0); });
  body.append(id, like);
  el.append(body);
  return el;
}

function startSearch(change) {
  Object.assign(state, change, { offset: 0 });
  const preview = $("query-image");
  preview.hidden = state.mode !== "image";
  if (state.mode === "image") {
    preview.querySelector("img").src = URL.createObjectURL(state.image);
    preview.querySelector("span").textContent = state.image.name || "image";
  }
  runSearch();
}

function searchByFile(file) {
  if (!file || !file.type.startsWith("image/")) { setStatus("drop an image file (PNG, JPEG, WebP…)", true); return; }
  startSearch({ mode: "image", image: file });
}

$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const q = $("q").value.trim();
  if (q) startSearch({ mode: "text", q });
});
$("image-input").addEventListener("change", (event) => searchByFile(event.target.files[0]));
$("clear-image").addEventListener("click", () => { $("query-image").hidden = true; state.mode = null; });
$("modality").addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  for (const b of $("modality").querySelectorAll("button")) b.classList.toggle("active", b === button);
  state.modality = button.dataset.modality;
  if (state.mode) { state.offset = 0; runSearch(); }
});
$("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - K); runSearch(); });
$("next").addEventListener("click", () => { state.offset += K; runSearch(); });

// Drag and drop anywhere on the page.
let dragDepth = 0;
document.addEventListener("dragenter", (e) => { e.preventDefault(); dragDepth++; $("drop-overlay").hidden = false; });
document.addEventListener("dragleave", () => { if (--dragDepth <= 0) { dragDepth = 0; $("drop-overlay").hidden = true; } });
document.addEventListener("dragover", (e) => e.preventDefault());
document.addEventListener("drop", (e) => {
  e.preventDefault(); dragDepth = 0; $("drop-overlay").hidden = true;
  searchByFile(e.dataTransfer.files[0]);
});

fetch("/api/info").then((r) => r.json()).then((info) => {
  const counts = Object.entries(info.by_modality || {}).map(([m, n]) => `${n} ${m}`).join(", ");
  $("info").textContent = `${info.documents} documents (${counts}) · ${info.encoder}`;
}).catch(() => {});
$("q").focus();
