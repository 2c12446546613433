#!/usr/bin/env bash
# End-to-end MCP test with the official TypeScript SDK.
#   tests/mcp-node/run.sh PATH_TO_CONTEXTD_BINARY
# Needs node >= 20 and npm; installs the pinned packages (package-lock.json).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$(cd "$(dirname "${1:?usage: run.sh PATH_TO_CONTEXTD_BINARY}")" && pwd)/$(basename "$1")"
cd "$here"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
exec node e2e.mjs "$bin"
