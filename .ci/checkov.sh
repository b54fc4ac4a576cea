#!/usr/bin/env bash
# checkov over the committed Terraform (infra/): zero failed checks, or this script fails.
#
# Usage: .ci/checkov.sh [DIR]   (DIR defaults to infra/; `cargo xtask generate` writes it)
#
# checkov is installed with pip into the virtual environment .venv at the repository root
# (created when missing). It scans only our own HCL: registry modules are not downloaded, so the
# module calls are checked by `terraform validate` (crates/terraform/tests) rather than here.
# A check that does not fit this platform is skipped inline in the generated HCL
# (`#checkov:skip=ID:reason`); docs/security.md lists every skip and why.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-infra}"
if [ ! -d "$dir" ]; then
  echo "checkov: $dir does not exist; run \`cargo xtask generate\` first" >&2
  exit 1
fi
if [ ! -x .venv/bin/checkov ]; then
  if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
  .venv/bin/pip install -q --disable-pip-version-check 'checkov>=3,<4'
fi
.venv/bin/checkov --version
# --compact: failures without code blocks; --quiet: only failed checks are listed.
.venv/bin/checkov \
  --directory "$dir" \
  --framework terraform \
  --quiet --compact \
  --skip-download \
  --download-external-modules false
