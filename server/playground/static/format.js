// Number formatting for the tables.

export function seconds(value) {
  if (value === null || value === undefined) return "–";
  return value < 1 ? `${Math.round(value * 1000)} ms` : `${value.toFixed(2)} s`;
}

export function count(value) {
  if (value === null || value === undefined) return "–";
  return Number(value).toLocaleString("en-US");
}

export function ratio(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return `${value.toFixed(2)}×`;
}

export function sum(entries, key) {
  return entries.reduce((total, entry) => total + (entry[key] || 0), 0);
}

// A DOM element with text and attributes, no innerHTML anywhere (model text is untrusted).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("data-")) node.setAttribute(name, String(value));
    else node[name] = value;
  }
  node.append(...children);
  return node;
}
