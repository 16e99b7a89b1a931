#!/usr/bin/env bash
# Builds target/packages/PrivaCT-<version>-<arch>.AppImage.
#
# The AppDir (target/packages/PrivaCT.AppDir) is assembled offline from the release binary and
# the files in packaging/. Turning it into an AppImage needs appimagetool, which is not in
# Debian or on crates.io: on a host with network, fetch it once from the AppImage project's
# releases (appimagetool-<arch>.AppImage, chmod +x) and put it on PATH or in APPIMAGETOOL.
# Without it the script stops after the AppDir (exit 0 with a note; APPDIR_ONLY=1 does the same
# on purpose).
#
#   bash packaging/appimage/build-appimage.sh
#
# The binary links only glibc and libgcc (and, with the GUI, GTK through the file dialog);
# X11/Wayland/OpenGL libraries are opened at run time from the host, as AppImage expects.
# Build on the oldest distribution you want to support (glibc is not bundled).
set -euo pipefail
cd "$(dirname "$0")/../.."

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
arch=$(uname -m)
target_dir="${CARGO_TARGET_DIR:-target}"
out="$target_dir/packages"
appdir="$out/PrivaCT.AppDir"

if [ "${PRIVACT_SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release --locked --bin privact
fi
"$target_dir/release/privact" --version >/dev/null

rm -rf "$appdir"
install -Dm755 "$target_dir/release/privact" "$appdir/usr/bin/privact"
strip "$appdir/usr/bin/privact" 2>/dev/null || true
install -Dm644 packaging/privact.desktop "$appdir/usr/share/applications/privact.desktop"
install -Dm644 packaging/io.github.privact.PrivaCT.metainfo.xml \
  "$appdir/usr/share/metainfo/io.github.privact.PrivaCT.metainfo.xml"
install -Dm644 packaging/icons/privact.svg "$appdir/usr/share/icons/hicolor/scalable/apps/privact.svg"
for n in 32 48 64 128 256 512; do
  install -Dm644 "packaging/icons/${n}x${n}/privact.png" \
    "$appdir/usr/share/icons/hicolor/${n}x${n}/apps/privact.png"
done
# AppImage conventions: desktop file and icon at the top, .DirIcon, AppRun.
cp packaging/privact.desktop "$appdir/privact.desktop"
cp packaging/icons/256x256/privact.png "$appdir/privact.png"
ln -s privact.png "$appdir/.DirIcon"
ln -s usr/bin/privact "$appdir/AppRun"
echo "assembled $appdir"

tool="${APPIMAGETOOL:-$(command -v appimagetool || command -v appimagetool-"$arch".AppImage || true)}"
if [ "${APPDIR_ONLY:-0}" = 1 ] || [ -z "$tool" ]; then
  [ -z "$tool" ] && echo "appimagetool not found (needs a download): stopped after the AppDir" >&2
  exit 0
fi
ARCH="$arch" "$tool" --no-appstream "$appdir" "$out/PrivaCT-$version-$arch.AppImage"
echo "built $out/PrivaCT-$version-$arch.AppImage"
