#!/usr/bin/env bash
# Builds target/packages/PrivaCT.app and target/packages/PrivaCT-<version>-macos-universal.dmg
# on a macOS host (Xcode command-line tools: lipo, codesign, hdiutil; rustup).
#
#   rustup target add aarch64-apple-darwin x86_64-apple-darwin      # network (once)
#   bash packaging/macos/build-macos.sh
#
# Signing: ad-hoc (`codesign -s -`) unless MACOS_SIGN_IDENTITY="Developer ID Application: …"
# is set. Notarisation needs an Apple developer account and network:
#   xcrun notarytool submit target/packages/PrivaCT-*.dmg --keychain-profile NAME --wait
#   xcrun stapler staple target/packages/PrivaCT-*.dmg
# PRIVACT_MACOS_TARGETS overrides the architectures (default: both, merged with lipo).
# ASSEMBLE_ONLY=1 with PRIVACT_MACOS_BINARY=path skips cargo/lipo/codesign/hdiutil and only lays
# out the .app (used to check the bundle layout on Linux).
set -euo pipefail
cd "$(dirname "$0")/../.."

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
out=target/packages
app="$out/PrivaCT.app"
mkdir -p "$out"

if [ "${ASSEMBLE_ONLY:-0}" = 1 ]; then
  bin="${PRIVACT_MACOS_BINARY:?set PRIVACT_MACOS_BINARY}"
else
  targets=${PRIVACT_MACOS_TARGETS:-"aarch64-apple-darwin x86_64-apple-darwin"}
  bins=()
  for t in $targets; do
    cargo build --release --locked --bin privact --target "$t"
    bins+=("target/$t/release/privact")
  done
  bin=target/packages/privact-universal
  lipo -create -output "$bin" "${bins[@]}"
  "$bin" --version
fi

rm -rf "$app"
mkdir -p "$app/Contents/MacOS" "$app/Contents/Resources"
cp "$bin" "$app/Contents/MacOS/privact"
chmod 755 "$app/Contents/MacOS/privact"
cp packaging/icons/privact.icns "$app/Contents/Resources/privact.icns"
sed "s/@VERSION@/$version/g" packaging/macos/Info.plist > "$app/Contents/Info.plist"
printf 'APPL????' > "$app/Contents/PkgInfo"

if [ "${ASSEMBLE_ONLY:-0}" = 1 ]; then
  echo "assembled $app (not signed, no .dmg)"
  exit 0
fi

plutil -lint "$app/Contents/Info.plist"
identity="${MACOS_SIGN_IDENTITY:--}"
if [ "$identity" = "-" ]; then stamp=--timestamp=none; else stamp=--timestamp; fi  # notarisation needs a timestamp
codesign --force --options runtime "$stamp" --sign "$identity" "$app"
codesign --verify --strict --verbose=2 "$app"

# The .dmg: the app plus a link to /Applications to drag it onto.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp -R "$app" "$stage/"
ln -s /Applications "$stage/Applications"
dmg="$out/PrivaCT-$version-macos-universal.dmg"
rm -f "$dmg"
hdiutil create -volname "PrivaCT $version" -srcfolder "$stage" -ov -format UDZO "$dmg"
echo "built $dmg"
