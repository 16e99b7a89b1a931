#!/usr/bin/env bash
# Renders packaging/icons/privact.svg into the committed icon files:
#   <N>x<N>/privact.png for N in 32 48 64 128 256 512   (hicolor theme layout; the .deb,
#                                                         AppImage and eframe window icon use these)
#   privact.ico   (Windows: 16..256, PNG-compressed entries)
#   privact.icns  (macOS: 16..512 + 1024 retina, PNG entries)
# Needs rsvg-convert (Debian: librsvg2-bin) and python3 (standard library only).
# Re-run after editing the SVG and commit the results; the builds never render icons.
set -euo pipefail
cd "$(dirname "$0")"
command -v rsvg-convert >/dev/null || { echo "render.sh: install librsvg2-bin (rsvg-convert)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for n in 16 32 48 64 128 256 512 1024; do
  rsvg-convert --width "$n" --height "$n" --keep-aspect-ratio privact.svg -o "$tmp/$n.png"
done
for n in 32 48 64 128 256 512; do
  mkdir -p "${n}x${n}"
  cp "$tmp/$n.png" "${n}x${n}/privact.png"
done

python3 - "$tmp" <<'PY'
import struct, sys
tmp = sys.argv[1]
def png(n):
    with open(f"{tmp}/{n}.png", "rb") as f:
        return f.read()

# ICO: ICONDIR + ICONDIRENTRY[] + PNG payloads (PNG entries are valid since Windows Vista).
sizes = [16, 32, 48, 64, 128, 256]
blobs = [png(n) for n in sizes]
out = struct.pack("<HHH", 0, 1, len(sizes))
offset = 6 + 16 * len(sizes)
for n, b in zip(sizes, blobs):
    out += struct.pack("<BBBBHHII", n % 256, n % 256, 0, 0, 1, 32, len(b), offset)
    offset += len(b)
with open("privact.ico", "wb") as f:
    f.write(out + b"".join(blobs))

# ICNS: 'icns' + total length, then (OSType, length incl. 8-byte header, PNG data) chunks.
types = [("icp4", 16), ("icp5", 32), ("icp6", 64), ("ic07", 128), ("ic08", 256),
         ("ic09", 512), ("ic10", 1024), ("ic11", 32), ("ic12", 64), ("ic13", 256), ("ic14", 512)]
chunks = b"".join(t.encode() + struct.pack(">I", 8 + len(png(n))) + png(n) for t, n in types)
with open("privact.icns", "wb") as f:
    f.write(b"icns" + struct.pack(">I", 8 + len(chunks)) + chunks)
PY
ls -l ./*x*/privact.png privact.ico privact.icns
