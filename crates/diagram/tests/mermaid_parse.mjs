// Parses a Mermaid diagram read from standard input with Mermaid's own parser (the npm package
// `mermaid`, run under Node.js with jsdom standing in for the browser). Prints the detected
// diagram type and exits 0, or prints the parse error and exits 1.
// Used by crates/diagram/tests/diagram.rs; needs `npm ci` at the repository root.

import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
globalThis.DOMParser = dom.window.DOMParser;
globalThis.Element = dom.window.Element;

const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const text = Buffer.concat(chunks).toString("utf8");

try {
  const result = await mermaid.parse(text);
  console.log(`mermaid ${result.diagramType}: ok`);
  process.exit(0);
} catch (err) {
  console.error(`mermaid: ${err.message || err}`);
  process.exit(1);
}
