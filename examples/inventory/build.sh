#!/bin/sh
# Builds one release of the example inventory service into dist/RELEASE/inventory.
#
# Usage: ./build.sh v1|v2
#
# shadowgate runs this (the `build` of each release in shadowgate.toml) from this directory.
# The binary goes wherever cargo puts it (CARGO_TARGET_DIR is respected) and is then copied
# next to this script, because a release artifact is a directory relative to the manifest.
set -eu

case "${1:-}" in
    v1 | v2) release=$1 ;;
    *)
        echo "usage: $0 v1|v2" >&2
        exit 2
        ;;
esac

cd "$(dirname "$0")"

cargo build --release -q -p shadowgate-example-inventory --bin "inventory-$release"

# cargo metadata prints one line of JSON; take the value of "target_directory" from it.
target_dir=$(cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
if [ -z "$target_dir" ]; then
    echo "build.sh: could not find the target directory in 'cargo metadata' output" >&2
    exit 1
fi

built="$target_dir/release/inventory-$release"
mkdir -p "dist/$release"
# Copy, then rename: replacing the file of a running binary in place would fail. The temporary
# name is this build's own, so that builds running at the same time do not take each other's.
tmp="dist/$release/.inventory.$$"
cp "$built" "$tmp"
mv -f "$tmp" "dist/$release/inventory"
echo "built dist/$release/inventory"
