#!/usr/bin/env bash
# Installs @magenta/music (magenta.js, with its @tensorflow/tfjs) for the Node
# test of exported checkpoints (tests/test_magentajs.py), outside the repository:
#   bash scripts/install_magentajs.sh [DIR]      (default ~/.cache/musicvae_jax/node)
# Installs Node.js and npm first with apt-get when they are missing and this is root.
set -euo pipefail
DIR="${1:-${MUSICVAE_NODE_DIR:-$HOME/.cache/musicvae_jax/node}}"
VERSION=1.23.1
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y -q nodejs npm >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q nodejs npm >/dev/null; }
  else
    echo "install_magentajs: no npm (install Node.js 18 or newer)" >&2; exit 1
  fi
fi
if [ -f "$DIR/node_modules/@magenta/music/package.json" ] && \
   grep -q "\"version\": \"$VERSION\"" "$DIR/node_modules/@magenta/music/package.json"; then
  exit 0
fi
mkdir -p "$DIR"
cd "$DIR"
[ -f package.json ] || echo '{"private": true}' > package.json
npm install --no-audit --no-fund --loglevel=error "@magenta/music@$VERSION"
