// The OpenAI Node SDK against the gateway: chat (streamed), responses (create, create with
// stream, the responses.stream() helper). Prints one JSON object of what the SDK handed over.
// Usage: OPENAI_SDK_DIR=<dir with node_modules/openai> node node_client.cjs BASE_URL MODEL
"use strict";
const { createRequire } = require("node:module");
const path = require("node:path");

const sdkRequire = createRequire(path.join(process.env.OPENAI_SDK_DIR, "package.json"));
const OpenAI = sdkRequire("openai").default;
const [baseURL, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "EMPTY", maxRetries: 0 });
const input = "What is 17 * 23?";

async function chatStream() {
  const stream = await client.chat.completions.create({
    model,
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: "user", content: input }],
  });
  let reasoning = "", content = "", finish = null, summary = null, usage = null;
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    if (choice) {
      reasoning += choice.delta.reasoning_content ?? "";
      content += choice.delta.content ?? "";
      if (choice.finish_reason) [finish, summary] = [choice.finish_reason, chunk.vtc];
    }
    if (chunk.usage) usage = chunk.usage;
  }
  return { reasoning, content, finish, rounds: summary?.rounds ?? null, usage };
}

function reasoningTexts(output) {
  return output
    .filter((item) => item.type === "reasoning")
    .map((item) => (item.content ?? []).map((part) => part.text).join(""));
}

async function responsesCreate() {
  const r = await client.responses.create({ model, input });
  return { status: r.status, reasoning: reasoningTexts(r.output), text: r.output_text, usage: r.usage };
}

async function responsesCreateStream() {
  // Our response.vtc.* events go to clients that send a `vtc` object.
  const stream = await client.responses.create({ model, input, stream: true, vtc: {} });
  const types = [], sequence = [];
  let deltas = "", final = null;
  for await (const event of stream) {
    types.push(event.type);
    sequence.push(event.sequence_number);
    if (event.type === "response.reasoning_text.delta") deltas += event.delta;
    if (event.type === "response.completed") final = event.response;
  }
  return { types, sequence, deltas, reasoning: reasoningTexts(final.output), usage: final.usage };
}

async function responsesHelper() {
  const stream = client.responses.stream({ model, input });
  const types = new Set();
  for await (const event of stream) types.add(event.type);
  const final = await stream.finalResponse();
  return { types: [...types], reasoning: reasoningTexts(final.output), usage: final.usage };
}

// Each part on its own: one that throws is reported as {"error": ...}, the others still run.
async function attempt(part) {
  try {
    return await part();
  } catch (err) {
    return { error: String(err.message ?? err) };
  }
}

async function main() {
  const out = {
    chat_stream: await attempt(chatStream),
    responses_create: await attempt(responsesCreate),
    responses_stream: await attempt(responsesCreateStream),
    responses_helper: await attempt(responsesHelper),
  };
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
