// The request form: question, optional image (sent as a data: URL image part), optional
// document (a text part before the question; with `vtc.compress_input` the server renders it
// into pages), the vtc knobs and temperature. Empty knobs are left out, so the server's
// defaults apply.

const $ = (id) => document.getElementById(id);

export class RequestForm {
  constructor() {
    this.image = null; // data: URL of the chosen image
    $("image").addEventListener("change", (event) => this.pickImage(event.target.files[0]));
    $("image-clear").addEventListener("click", () => this.clearImage());
    $("document-file").addEventListener("change", (event) => this.loadDocument(event.target.files[0]));
    $("document").addEventListener("input", () => this.showDocumentSize());
  }

  loadDocument(file) {
    if (!file) return;
    const reader = new FileReader();
    reader.addEventListener("load", () => {
      $("document").value = reader.result;
      $("document-file").value = "";
      this.showDocumentSize();
    });
    reader.readAsText(file);
  }

  showDocumentSize() {
    const length = $("document").value.length;
    $("document-size").textContent = length ? `${length.toLocaleString("en-US")} characters` : "";
  }

  pickImage(file) {
    if (!file) return this.clearImage();
    const reader = new FileReader();
    reader.addEventListener("load", () => {
      this.image = reader.result;
      $("image-thumb").src = reader.result;
      $("image-preview").hidden = false;
    });
    reader.readAsDataURL(file);
  }

  clearImage() {
    this.image = null;
    $("image").value = "";
    $("image-thumb").removeAttribute("src");
    $("image-preview").hidden = true;
  }

  question() {
    return $("question").value.trim();
  }

  // The chat completion body, streamed with pages and usage.
  body(model, mode = $("mode").value) {
    const question = this.question();
    const documentText = $("document").value;
    const parts = [];
    if (this.image) parts.push({ type: "image_url", image_url: { url: this.image } });
    // The question is the last text part: the one compression keeps as text.
    if (documentText.trim()) parts.push({ type: "text", text: documentText });
    const content = parts.length ? [...parts, { type: "text", text: question }] : question;
    const vtc = { mode, stream_pages: true };
    if (documentText.trim() && $("compress-input").checked) {
      vtc.compress_input = { scope: "documents" };
      const minTokens = integer("compress-min-tokens");
      if (minTokens !== null) vtc.compress_input.min_tokens = minTokens;
    }
    const rounds = integer("max-rounds");
    const roundTokens = integer("round-tokens");
    if (rounds !== null) vtc.max_rounds = rounds;
    if (roundTokens !== null) vtc.round_max_tokens = roundTokens;
    if ($("image-order").value) vtc.image_order = $("image-order").value;
    const body = {
      model,
      messages: [{ role: "user", content }],
      stream: true,
      stream_options: { include_usage: true },
      vtc,
    };
    const temperature = $("temperature").value.trim();
    if (temperature !== "") body.temperature = Number(temperature);
    return body;
  }
}

function integer(id) {
  const value = $(id).value.trim();
  return value === "" ? null : Number.parseInt(value, 10);
}
