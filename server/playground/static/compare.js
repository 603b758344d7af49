// "Compare with baseline": the same question in vtc and in baseline mode, side by side.
//
// Both runs get the same generation budget, so the difference is only in how reasoning is
// remembered (pages vs the whole text in context): max_rounds × round_max_tokens when both are
// set, else what the vtc run actually generated.

import { count, el, ratio, seconds, sum } from "./format.js";

export function baselineBody(vtcBody, vtcRun) {
  const vtc = { ...vtcBody.vtc, mode: "baseline" };
  const rounds = vtcBody.vtc.max_rounds;
  const perRound = vtcBody.vtc.round_max_tokens;
  const generated = sum(vtcRun.vtc.per_round, "generated_tokens");
  const budget = rounds && perRound ? rounds * perRound : generated;
  return { ...vtcBody, vtc, max_tokens: Math.max(1, budget) };
}

function totals(run) {
  const perRound = run.vtc.per_round || [];
  return {
    latency: run.vtc.latency_s,
    ttft: run.vtc.ttft_s,
    rounds: run.vtc.rounds,
    prompt: sum(perRound, "prompt_tokens"),
    cached: sum(perRound, "cached_tokens"),
    generated: sum(perRound, "generated_tokens"),
    pages: run.vtc.pages,
    vision: run.vtc.vision_tokens,
  };
}

const ROWS = [
  ["latency", "latency", seconds],
  ["TTFT", "ttft", seconds],
  ["rounds", "rounds", count],
  ["prompt tokens (all rounds)", "prompt", count],
  ["cached prompt tokens", "cached", count],
  ["generated tokens", "generated", count],
  ["pages", "pages", count],
  ["vision tokens", "vision", count],
];

export function renderComparison(tbody, vtcRun, baseRun) {
  const a = totals(vtcRun);
  const b = baseRun ? totals(baseRun) : null;
  tbody.replaceChildren(
    ...ROWS.map(([label, key, format]) => {
      const quotient = b && a[key] ? b[key] / a[key] : null;
      return el(
        "tr",
        { "data-key": key },
        el("th", { scope: "row" }, label),
        el("td", { "data-run": "vtc" }, format(a[key])),
        el("td", { "data-run": "baseline" }, b ? format(b[key]) : "…"),
        el("td", {}, ratio(quotient)),
      );
    }),
  );
}
