// One streamed completion, its chunks sorted by kind (the "Page streaming" contract):
//   page chunk    choices [] and vtc.page          -> on.page(page)
//   reasoning     delta.reasoning_content          -> on.reasoning(round, text)
//   answer        delta.content                    -> on.answer(text)
//   round marker  delta {} and vtc = per-round     -> on.round(entry)
//   final chunk   finish_reason and the whole vtc  -> on.final(vtc, finishReason)
//   usage chunk   choices [] and usage             -> on.usage(usage)
// Reasoning deltas carry no round number: they belong to the round after the last marker.

import { ApiError, chatStream } from "./api.js";

export async function runChat(body, signal, on = {}) {
  const run = { vtc: null, usage: null, finishReason: null, reasoning: "", answer: "" };
  let round = 1;
  for await (const chunk of chatStream(body, signal)) {
    const vtc = chunk.vtc;
    if (vtc && vtc.page) {
      on.page?.(vtc.page);
      continue;
    }
    if (chunk.usage) {
      run.usage = chunk.usage;
      on.usage?.(chunk.usage);
    }
    const choice = chunk.choices && chunk.choices[0];
    if (!choice) continue;
    const delta = choice.delta || {};
    const reasoning = delta.reasoning_content ?? delta.reasoning;
    if (reasoning) {
      run.reasoning += reasoning;
      on.reasoning?.(round, reasoning);
    }
    if (delta.content) {
      run.answer += delta.content;
      on.answer?.(delta.content);
    }
    if (choice.finish_reason) {
      run.finishReason = choice.finish_reason;
      run.vtc = vtc || null;
      on.final?.(run.vtc, choice.finish_reason);
    } else if (vtc && vtc.round !== undefined) {
      on.round?.(vtc);
      round = vtc.round + 1;
    }
  }
  if (run.finishReason === null) throw new ApiError("the stream ended before the final chunk");
  return run;
}
