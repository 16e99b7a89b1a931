#!/usr/bin/env bash
# Builds the Linux package(s) into target/packages/:
#   privact_<version>-1_<arch>.deb   (cargo-deb; installs /usr/bin/privact, the desktop entry,
#                                     hicolor icons, AppStream metainfo, man page)
# Usage: bash packaging/build-linux.sh          (from anywhere)
#
# Offline once the crates are fetched: `cargo build` reuses an up-to-date target/release/privact
# (it is a no-op when nothing changed), and cargo-deb only packs files. Needs cargo-deb
# (`cargo install cargo-deb --version 3.8.0 --locked`, crates.io) and dpkg-dev (dpkg-shlibdeps,
# for the `$auto` Depends). Honours CARGO_TARGET_DIR. Set PRIVACT_SKIP_BUILD=1 to package the
# existing release binary without asking cargo (e.g. when it was built by an earlier CI step).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "build-linux.sh: $*" >&2; exit 1; }

command -v cargo-deb >/dev/null || die "cargo-deb missing: cargo install cargo-deb --version 3.8.0 --locked"
command -v dpkg-shlibdeps >/dev/null || die "dpkg-shlibdeps missing: apt-get install dpkg-dev"

target_dir="${CARGO_TARGET_DIR:-target}"
out_dir="$target_dir/packages"
mkdir -p "$out_dir"

if [ "${PRIVACT_SKIP_BUILD:-0}" = 1 ]; then
  [ -x "$target_dir/release/privact" ] || die "PRIVACT_SKIP_BUILD=1 but $target_dir/release/privact is missing"
else
  # A no-op when target/release/privact is fresh.
  cargo build --release --locked --bin privact
fi

# The release binary must run before it is packed.
"$target_dir/release/privact" --version >/dev/null || die "$target_dir/release/privact --version failed"

# --no-build: package the binary built above (cargo-deb strips a copy, not the original).
cargo deb --no-build --locked --output "$out_dir/"

deb=$(ls -t "$out_dir"/privact_*.deb | head -n 1)
echo "built $deb"
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'
dpkg-deb --contents "$deb"
