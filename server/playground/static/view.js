// The live view of one run: a section per round (its reasoning as it streams, its pages as
// thumbnails the moment they stream), the answer, the per-round table and the summary.
// Input pages (kind "input", round 0) get a section of their own, before round 1.

import { count, el, ratio, seconds, sum } from "./format.js";

// Streamed text goes to the page once per animation frame, not once per delta. Appending each
// delta and checking the scroll position (a forced layout of the whole growing box) made the
// page fall behind the stream: measured 2026-11-30 on the tiny model (8 rounds x 1500 tokens,
// 41k characters), the page finished 31-38 s after the click for a 20 s request, its main
// thread too busy to even answer a test's polling; batched, it keeps up (numbers in
// docs/playground.md).
export class FrameBatcher {
  constructor() {
    this.pending = new Map(); // box -> text not yet on the page
    this.frame = null;
  }

  append(box, text) {
    this.pending.set(box, (this.pending.get(box) || "") + text);
    if (this.frame === null) this.frame = requestAnimationFrame(() => this.flush());
  }

  // Writes everything pending now (also called when a run ends, so nothing waits for a frame).
  flush() {
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    this.frame = null;
    // Read every scroll position first, then write: one layout, not one per box.
    const boxes = [...this.pending].map(([box, text]) => [box, text, isAtBottom(box)]);
    this.pending.clear();
    for (const [box, text] of boxes) box.append(text);
    for (const [box, , atBottom] of boxes) if (atBottom) box.scrollTop = box.scrollHeight;
  }

  clear() {
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    this.frame = null;
    this.pending.clear();
  }
}

function isAtBottom(box) {
  return box.scrollHeight - box.scrollTop - box.clientHeight < 24;
}

export class RunView {
  constructor(viewer) {
    this.rounds = document.getElementById("rounds");
    this.answer = document.getElementById("answer");
    this.finalAnswer = document.getElementById("final-answer");
    this.table = document.querySelector("#round-table tbody");
    this.summary = document.getElementById("summary");
    this.viewer = viewer;
    this.sections = new Map();
    this.text = new FrameBatcher();
  }

  reset() {
    this.text.clear();
    this.sections.clear();
    this.rounds.replaceChildren();
    this.answer.replaceChildren();
    this.finalAnswer.hidden = true;
    this.finalAnswer.replaceChildren();
    this.table.replaceChildren();
    this.summary.replaceChildren();
  }

  section(round) {
    let section = this.sections.get(round);
    if (section) return section;
    const title = round === 0 ? "Input pages" : `Round ${round}`;
    const stats = el("span", { class: "round-stats" });
    const reasoning = el("div", { class: "reasoning" });
    const pages = el("div", { class: "pages" });
    const node = el(
      "section",
      { class: round === 0 ? "card round input" : "card round", "data-round": round },
      el("h2", {}, title, stats),
      ...(round === 0 ? [] : [reasoning]),
      pages,
    );
    // Keep rounds in order even if a page of round k arrives before its first text.
    const after = [...this.sections.keys()].filter((k) => k > round).sort((a, b) => a - b)[0];
    if (after === undefined) this.rounds.append(node);
    else this.rounds.insertBefore(node, this.sections.get(after).node);
    section = { node, stats, reasoning, pages };
    this.sections.set(round, section);
    return section;
  }

  reasoning(round, text) {
    this.text.append(this.section(round).reasoning, text);
  }

  // Puts all streamed text on the page now (the run ended, was stopped or failed).
  flush() {
    this.text.flush();
  }

  page(page) {
    const kind = page.kind || "reasoning";
    const label = kind === "input" ? `input page ${page.index}` : `page ${page.index}`;
    const img = el("img", {
      src: page.url,
      alt: `${label} (round ${page.round}), ${page.vision_tokens} vision tokens`,
      loading: "lazy",
    });
    const thumb = el(
      "button",
      {
        type: "button",
        class: `thumb kind-${kind}`,
        title: `${label}: ${page.width}×${page.height}, ${page.vision_tokens} vision tokens`,
        "data-kind": kind,
        "data-round": page.round,
        "data-index": page.index,
      },
      img,
      el("span", {}, kind === "input" ? `in ${page.index}` : `p${page.index}`),
    );
    thumb.addEventListener("click", () => this.viewer.open(page, label));
    this.section(kind === "input" ? 0 : page.round).pages.append(thumb);
  }

  answerText(text) {
    this.text.append(this.answer, text);
  }

  round(entry) {
    this.flush(); // the round's text is on the page before its row
    const section = this.section(entry.round);
    const pages = entry.pages === 1 ? "1 page" : `${count(entry.pages)} pages`;
    section.stats.textContent = ` · ${count(entry.generated_tokens)} tokens, ${pages}, ${seconds(entry.latency_s)}`;
    const cells = [
      entry.round,
      count(entry.prompt_tokens),
      count(entry.cached_tokens),
      count(entry.generated_tokens),
      count(entry.pages),
      count(entry.vision_tokens),
      seconds(entry.ttft_s),
      seconds(entry.latency_s),
    ];
    this.table.append(el("tr", { "data-round": entry.round }, ...cells.map((c) => el("td", {}, String(c)))));
  }

  final(vtc, finishReason, usage) {
    this.flush();
    if (!vtc) return;
    if (vtc.final_answer) {
      this.finalAnswer.hidden = false;
      this.finalAnswer.replaceChildren("Final answer: ", el("strong", {}, vtc.final_answer));
    } else if (!this.answer.textContent) {
      this.answer.append(
        el("em", {}, `No answer: the model did not finish within the budget (finish_reason ${finishReason}).`),
      );
    }
    const perRound = vtc.per_round || [];
    const items = [
      ["mode", vtc.mode],
      ["rounds", count(vtc.rounds)],
      ["pages", count(vtc.pages)],
      ["reasoning tokens", count(vtc.reasoning_tokens)],
      ["vision tokens", count(vtc.vision_tokens)],
      ["compression ratio", ratio(vtc.compression_ratio)],
      ["prompt tokens", count(usage ? usage.prompt_tokens : sum(perRound, "prompt_tokens"))],
      ["generated tokens", count(usage ? usage.completion_tokens : sum(perRound, "generated_tokens"))],
      ["TTFT", seconds(vtc.ttft_s)],
      ["latency", seconds(vtc.latency_s)],
    ];
    if (vtc.input) {
      items.push(
        ["input pages", count(vtc.input.pages)],
        ["input text tokens", count(vtc.input.text_tokens)],
        ["input vision tokens", count(vtc.input.vision_tokens)],
        ["input compression", ratio(vtc.input.compression_ratio)],
      );
    }
    this.summary.replaceChildren(
      ...items.map(([name, value]) =>
        el("div", { "data-key": name }, el("dt", {}, name), el("dd", {}, String(value))),
      ),
    );
  }
}

// The full-size page viewer (a native <dialog>).
export class PageViewer {
  constructor() {
    this.dialog = document.getElementById("viewer");
    this.img = document.getElementById("viewer-img");
    this.caption = document.getElementById("viewer-caption");
    document.getElementById("viewer-close").addEventListener("click", () => this.dialog.close());
    // A click on the backdrop (the dialog itself, outside its content) closes it too.
    this.dialog.addEventListener("click", (event) => {
      if (event.target === this.dialog) this.dialog.close();
    });
  }

  open(page, label) {
    this.img.src = page.url;
    this.img.alt = label;
    this.caption.textContent = `Round ${page.round}, ${label}: ${page.width}×${page.height} px, ${page.vision_tokens} vision tokens`;
    this.dialog.showModal();
  }
}
