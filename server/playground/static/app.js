// The playground: wires the form, the live view, the baseline comparison, the API key and stop.
// `document.body.dataset.state` is loading | ready | running | done | stopped | error.

import { ApiError, apiKey, modelName } from "./api.js";
import { runChat } from "./chat.js";
import { baselineBody, renderComparison } from "./compare.js";
import { seconds } from "./format.js";
import { RequestForm } from "./form.js";
import { FrameBatcher, PageViewer, RunView } from "./view.js";

const $ = (id) => document.getElementById(id);
const form = new RequestForm();
const view = new RunView(new PageViewer());
let model = null;
let controller = null; // aborts the running request
let lastVtc = null; // { key, run } of the last finished vtc run, reused by the comparison

function setState(state, status) {
  document.body.dataset.state = state;
  $("status").textContent = status;
  const running = state === "running";
  $("ask").disabled = running || model === null;
  $("compare").disabled = running || model === null;
  $("stop").disabled = !running;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

// The server requires keys (it answered 401): show the key field with the server's message.
function needKey(message) {
  $("key-form").hidden = false;
  $("key-message").textContent = message;
  $("api-key").value = apiKey.get();
  $("api-key").focus();
}

function failed(error) {
  if (error.name === "AbortError") {
    setState("stopped", "stopped");
    return;
  }
  const message = error instanceof ApiError ? error.message : `network error: ${error.message}`;
  if (error.status === 401) needKey(message);
  showError(message);
  setState("error", "error");
}

async function connect() {
  setState("loading", "connecting");
  showError("");
  try {
    model = await modelName();
  } catch (error) {
    model = null;
    failed(error);
    return;
  }
  $("model").textContent = model;
  if (apiKey.get()) $("key-message").textContent = "Key accepted.";
  setState("ready", "ready");
}

// Runs one request; the run, or null if it failed or was stopped (the state says which).
async function execute(body, handlers) {
  controller = new AbortController();
  showError("");
  setState("running", `streaming ${body.vtc.mode}`);
  try {
    return await runChat(body, controller.signal, handlers);
  } catch (error) {
    failed(error);
    return null;
  } finally {
    controller = null;
  }
}

async function ask(mode) {
  const body = form.body(model, mode);
  view.reset();
  $("compare-card").hidden = true;
  let shown = 0;
  const run = await execute(body, {
    reasoning: (round, text) => {
      view.reasoning(round, text);
      if (round !== shown) $("status").textContent = `${body.vtc.mode}: round ${(shown = round)}…`;
    },
    page: (page) => view.page(page),
    answer: (text) => view.answerText(text),
    round: (entry) => view.round(entry),
  });
  view.flush();
  if (run === null) return null;
  view.final(run.vtc, run.finishReason, run.usage);
  if (body.vtc.mode === "vtc") lastVtc = { key: JSON.stringify(body), run };
  setState("done", `done in ${seconds(run.vtc.latency_s)}`);
  return run;
}

async function compare() {
  const body = form.body(model, "vtc");
  const key = JSON.stringify(body);
  const vtcRun = lastVtc && lastVtc.key === key ? lastVtc.run : await ask("vtc");
  if (vtcRun === null) return;
  const tbody = document.querySelector("#compare-table tbody");
  const text = $("baseline-text");
  const base = baselineBody(body, vtcRun);
  $("compare-card").hidden = false;
  $("compare-status").textContent = `baseline: one round of up to ${base.max_tokens} tokens (the vtc run's budget)`;
  renderComparison(tbody, vtcRun, null);
  text.replaceChildren();
  const batcher = new FrameBatcher();
  const baseRun = await execute(base, {
    reasoning: (_, chunk) => batcher.append(text, chunk),
    answer: (chunk) => batcher.append(text, chunk),
  });
  batcher.flush();
  if (baseRun === null) return;
  renderComparison(tbody, vtcRun, baseRun);
  setState("done", `compared: baseline ${seconds(baseRun.vtc.latency_s)}, vtc ${seconds(vtcRun.vtc.latency_s)}`);
}

$("ask-form").addEventListener("submit", (event) => {
  event.preventDefault();
  if (model !== null && controller === null) ask($("mode").value);
});
// Ctrl+Enter (Cmd+Enter) in the question asks it.
$("question").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("ask-form").requestSubmit();
});
$("compare").addEventListener("click", () => {
  if (model !== null && controller === null) compare();
});
$("stop").addEventListener("click", () => controller?.abort());
$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  apiKey.set($("api-key").value.trim());
  $("key-message").textContent = "Checking…";
  connect();
});

connect();
