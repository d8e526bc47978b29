#!/usr/bin/env bash
# Regenerates the app icons in icons/ from icons/quire.svg (ImageMagick's `convert`), and the UI's favicon.
# The PNGs are 8-bit RGBA, which Tauri requires. Run it after changing the SVG, then commit the results.
set -euo pipefail
cd "$(dirname "$0")/.."
src=icons/quire.svg
png() { convert -background none -density 1200 "$src" -resize "$1x$1" -depth 8 "PNG32:$2"; }
png 32 icons/32x32.png
png 128 icons/128x128.png
png 256 icons/128x128@2x.png
png 512 icons/icon.png
convert -background none -density 1200 "$src" -depth 8 -define icon:auto-resize=256,128,64,48,32,16 icons/icon.ico
cp "$src" ui/public/quire.svg
echo "icons written to icons/ (and ui/public/quire.svg)"
