#!/usr/bin/env bash
# Build the real Dapr runtime (daprd, placement, scheduler) at the release pinned in go.mod,
# into the folder `dapr init` would use (default: .dapr/bin under the repository).
#
# Why not `go build github.com/dapr/dapr/cmd/daprd` straight from the module cache:
# - with `-tags stablecomponents` daprd links ~50 components, among them Pulsar, whose pinned
#   fork the Go module proxy here does not serve; and every one of them costs build time;
# - so daprd is built with no component tag, and the one file of its components package that
#   such a build compiles (zz_notag.go, which only panics) is overlaid (`go build -overlay`)
#   by components.go.overlay, which registers the components Resident ships and tests with;
# - Go refuses overlays inside the module cache, so the pinned module is unpacked (from the
#   cache, checksum-verified by go.sum) into .dapr/src/dapr, which go.mod's `replace` names.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/.dapr/bin}
mkdir -p "$out"
out=$(cd "$out" && pwd)

if ! command -v go >/dev/null 2>&1; then
  echo "make dapr: Go >= 1.26.6 is needed to build the Dapr runtime the tests run on." >&2
  echo "  Install it (https://go.dev/doc/install, or: apt-get install golang-go if new enough)." >&2
  exit 1
fi

version=$(awk '($1 == "github.com/dapr/dapr" || $2 == "github.com/dapr/dapr") && $0 !~ /=>/ \
  {print ($1 == "require") ? $3 : $2; exit}' "$here/go.mod")
[ -n "$version" ] || { echo "build.sh: no github.com/dapr/dapr version in go.mod" >&2; exit 1; }

src="$root/.dapr/src/dapr"
if [ "$(cat "$src/.resident-version" 2>/dev/null)" != "$version" ]; then
  dir=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "github.com/dapr/dapr@$version" \
        | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$dir" ] || { echo "build.sh: could not download github.com/dapr/dapr@$version" >&2; exit 1; }
  rm -rf "$src"
  mkdir -p "$(dirname "$src")"
  cp -R "$dir" "$src"
  chmod -R u+w "$src"
  echo "$version" > "$src/.resident-version"
fi

overlay="$root/.dapr/src/overlay.json"
printf '{"Replace":{"%s":"%s"}}\n' \
  "$src/cmd/daprd/components/zz_notag.go" "$here/components.go.overlay" > "$overlay"

v=${version#v}
ldflags="-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=$v -X github.com/dapr/kit/logger.DaprVersion=$v"
mkdir -p "$out"
cd "$here"
CGO_ENABLED=0 go build -mod=readonly -trimpath -overlay "$overlay" -ldflags "$ldflags" -o "$out/" \
  github.com/dapr/dapr/cmd/daprd github.com/dapr/dapr/cmd/placement github.com/dapr/dapr/cmd/scheduler
"$out/daprd" --version
