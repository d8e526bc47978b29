#!/usr/bin/env bash
# Test fixtures for quire-extract: real documents and real bad inputs, all under $QUIRE_CACHE/fixtures
# (nothing is written into the repository). Idempotent: what is already there is kept; every file is written
# to a temporary name first and moved into place, so an interrupted run never leaves a half-written fixture.
#
#   bash scripts/fixtures.sh        # -> $QUIRE_CACHE/fixtures/{docs,bad,docx}/… + manifest.tsv
#
# Sources (no package is installed):
#   - Debian 12 "bookworm" documentation packages, via `apt-get download` + `dpkg -x` (versions pinned as in
#     ../shared/bench-peer/corpus.sh; if a pinned version is gone, the current candidate is used and recorded);
#   - PyPI sdists, via `pip download --no-deps --no-binary :all:` and `tar x` (never installed):
#     pypdf 7.1.1 (encrypted PDFs r2..r6, user password `asdfzxcv`, and damaged PDFs),
#     pikepdf 10.18.0 (broken and fuzzed PDFs), python-docx 1.2.0 (real .docx files);
#   - generated inputs: an empty PDF, 64 KiB of reproducible random bytes, a truncated PDF, a sparse file over
#     the size limit, a zip bomb disguised as a .docx, and deeply nested HTML.
# Needs: apt-get, dpkg, gzip, tar, python3 with pip, sha256sum, truncate.
set -euo pipefail
shopt -s inherit_errexit
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

FX="$QUIRE_CACHE/fixtures"
DL="$FX/downloads"      # .deb files and sdists as downloaded
X="$FX/unpacked"        # what dpkg -x and tar x produced
DOCS="$FX/docs"         # good documents
BAD="$FX/bad"           # inputs that must fail, each alone, with a readable reason
DOCX="$FX/docx"         # real .docx files
MANIFEST="$FX/manifest.tsv"
mkdir -p "$DL" "$X" "$DOCS/html" "$BAD/encrypted" "$BAD/damaged" "$BAD/generated" "$DOCX"

say() { printf 'fixtures: %s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null 2>&1 || { say "missing '$1' (install $2)"; exit 1; }; }
need apt-get apt; need dpkg dpkg; need gzip gzip; need tar tar; need python3 python3; need sha256sum coreutils
need truncate coreutils

# The package lists are needed by `apt-get download`; refresh them only when there are none.
if ! compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null; then
  say "no apt package lists: running apt-get update"
  if [[ $(id -u) -eq 0 ]]; then apt-get update -q >&2; else sudo apt-get update -q >&2; fi
fi

# manifest rows: file (relative to $FX) \t source
declare -a ROWS=()
record() { ROWS+=("$1"$'\t'"$2"); }

# install SRC DST SOURCE: copies SRC to DST (relative to $FX) unless DST already exists; gunzips *.gz sources.
install_file() {
  local src="$1" rel="$2" source="$3" dst="$FX/$2"
  if [[ ! -e "$dst" ]]; then
    [[ -e "$src" ]] || { say "$src not found"; exit 1; }
    mkdir -p "$(dirname "$dst")"
    if [[ "$src" == *.gz && "$rel" != *.gz ]]; then gzip -dc "$src" >"$dst.tmp.$$"; else cp "$src" "$dst.tmp.$$"; fi
    mv -f "$dst.tmp.$$" "$dst"
  fi
  record "$rel" "$source"
}

# ---------------------------------------------------------------------------------------------------------------
# Debian documentation packages

fetch_deb() {  # pkg version -> prints the path of the .deb in $DL
  local pkg="$1" ver="$2" deb
  deb=$(compgen -G "$DL/${pkg}_*_all.deb" | head -n1 || true)
  if [[ -n "$deb" ]]; then echo "$deb"; return; fi
  local tmp; tmp=$(mktemp -d "$DL/.apt.XXXXXX")
  ( cd "$tmp"
    if ! apt-get download -q "${pkg}=${ver}" >/dev/null 2>"$tmp/err"; then
      say "${pkg}=${ver} not downloadable ($(grep -v '^W:' "$tmp/err" | tail -n1)); trying the current candidate"
      apt-get download -q "$pkg" >/dev/null 2>"$tmp/err" || {
        cat "$tmp/err" >&2; say "apt-get download $pkg failed; run 'apt-get update' first"; exit 1; }
    fi )
  deb=$(compgen -G "$tmp/${pkg}_*_all.deb" | head -n1)
  mv -f "$deb" "$DL/"
  rm -rf "$tmp"
  compgen -G "$DL/${pkg}_*_all.deb" | head -n1
}

unpack_deb() {  # pkg version -> prints the directory it is unpacked in
  local pkg="$1" ver="$2" deb dir
  deb=$(fetch_deb "$pkg" "$ver")
  dir="$X/deb/$pkg"
  if [[ ! -e "$dir/.done" ]]; then
    rm -rf "$dir" "$dir.tmp"; mkdir -p "$dir.tmp"
    dpkg -x "$deb" "$dir.tmp"
    touch "$dir.tmp/.done"
    mv "$dir.tmp" "$dir"
  fi
  echo "$dir"
}

deb_source() {  # pkg -> "debian:pkg=version:"
  local deb; deb=$(compgen -G "$DL/${1}_*_all.deb" | head -n1)
  echo "debian:$1=$(dpkg-deb -f "$deb" Version)"
}

# package | pinned version | path inside the package | fixture file (relative to $FX)
DEB_ENTRIES=(
  "debian-reference-en|2.100|usr/share/debian-reference/debian-reference.en.pdf|docs/debian-reference.en.pdf"
  "debian-faq-ru|11.1|usr/share/doc/debian/FAQ/debian-faq.ru.pdf.gz|docs/debian-faq.ru.pdf"
  "debian-reference-zh-cn|2.100|usr/share/debian-reference/debian-reference.zh-cn.pdf|docs/debian-reference.zh-cn.pdf"
  "developers-reference|12.18|usr/share/developers-reference/developers-reference.epub|docs/developers-reference.epub"
  "maint-guide|1.2.53|usr/share/doc/maint-guide/maint-guide.en.pdf|docs/maint-guide.en.pdf"
)
for e in "${DEB_ENTRIES[@]}"; do
  IFS='|' read -r pkg ver inpath rel <<<"$e"
  dir=$(unpack_deb "$pkg" "$ver")
  install_file "$dir/$inpath" "$rel" "$(deb_source "$pkg"):/$inpath"
done

# The Debian FAQ as HTML (one page per chapter).
dir=$(unpack_deb debian-faq 11.1)
for f in "$dir"/usr/share/doc/debian/FAQ/*.en.html; do
  [[ -L "$f" ]] && continue
  install_file "$f" "docs/html/$(basename "$f")" "$(deb_source debian-faq):/usr/share/doc/debian/FAQ/$(basename "$f")"
done

# ---------------------------------------------------------------------------------------------------------------
# PyPI sdists (downloaded, unpacked, never installed)

fetch_sdist() {  # name version -> prints the directory it is unpacked in
  local name="$1" ver="$2" tarball dir
  tarball=$(compgen -G "$DL/${name//-/[-_]}-${ver}.tar.gz" | head -n1 || true)
  if [[ -z "$tarball" ]]; then
    local tmp; tmp=$(mktemp -d "$DL/.pip.XXXXXX")
    python3 -m pip download -q --no-deps --no-binary :all: "${name}==${ver}" -d "$tmp" >&2
    tarball=$(compgen -G "$tmp/*.tar.gz" | head -n1)
    mv -f "$tarball" "$DL/"
    rm -rf "$tmp"
    tarball="$DL/$(basename "$tarball")"
  fi
  dir="$X/pypi/$(basename "$tarball" .tar.gz)"
  if [[ ! -e "$dir/.done" ]]; then
    rm -rf "$dir" "$dir.tmp"; mkdir -p "$dir.tmp"
    tar xzf "$tarball" -C "$dir.tmp" --strip-components=1
    touch "$dir.tmp/.done"
    mv "$dir.tmp" "$dir"
  fi
  echo "$dir"
}

# pypdf: encrypted PDFs. r2..r4 "*-user-password" and r6-both-passwords need a password; "*-empty-password",
# "*-owner-password" open with the empty user password, and r5/r6 "-user-password" (made with
# `qpdf --encrypt asdfzxcv "" 256`: an empty *owner* password) open with the empty password too: all must extract.
# (r4-aes-v2-no-key-length opens with the empty password in poppler and pypdf; lopdf cannot: see the tests.)
dir=$(fetch_sdist pypdf 7.1.1)
for f in r2-user-password r3-user-password r4-user-password r4-aes-user-password r6-both-passwords; do
  install_file "$dir/resources/encryption/$f.pdf" "bad/encrypted/$f.pdf" "pypi:pypdf==7.1.1:/resources/encryption/$f.pdf"
done
for f in libreoffice-writer-password crazyones-encrypted-256 encrypted-file; do
  install_file "$dir/resources/$f.pdf" "bad/encrypted/$f.pdf" "pypi:pypdf==7.1.1:/resources/$f.pdf"
done
for f in r2-empty-password r3-empty-password r4-owner-password r5-empty-password r6-empty-password \
         r6-owner-password r5-user-password r6-user-password r4-aes-v2-no-key-length; do
  install_file "$dir/resources/encryption/$f.pdf" "docs/encrypted-open/$f.pdf" \
    "pypi:pypdf==7.1.1:/resources/encryption/$f.pdf"
done
# A PDF whose cross-reference table is broken (poppler: "Failed to parse XRef entry"), partly readable.
install_file "$dir/resources/issue-301.pdf" "docs/damaged-readable/pypdf-issue-301.pdf" "pypi:pypdf==7.1.1:/resources/issue-301.pdf"
# Good small PDFs, for the "good document right after a crash" checks.
install_file "$dir/resources/crazyones.pdf" "docs/crazyones.pdf" "pypi:pypdf==7.1.1:/resources/crazyones.pdf"
install_file "$dir/resources/pdflatex-outline.pdf" "docs/pdflatex-outline.pdf" \
  "pypi:pypdf==7.1.1:/resources/pdflatex-outline.pdf"

# pikepdf: broken and fuzzed PDFs.
dir=$(fetch_sdist pikepdf 10.18.0)
for f in badlin1 cyclic-toc newline-buffer-test content-stream-errors fuzz/378014596; do
  install_file "$dir/tests/resources/$f.pdf" "bad/damaged/pikepdf-${f//\//-}.pdf" \
    "pypi:pikepdf==10.18.0:/tests/resources/$f.pdf"
done
install_file "$dir/tests/resources/graph-encrypted.pdf" "bad/encrypted/pikepdf-graph-encrypted.pdf" \
  "pypi:pikepdf==10.18.0:/tests/resources/graph-encrypted.pdf"
install_file "$dir/tests/resources/outlines.pdf" "docs/pikepdf-outlines.pdf" \
  "pypi:pikepdf==10.18.0:/tests/resources/outlines.pdf"

# python-docx: real Word documents.
dir=$(fetch_sdist python-docx 1.2.0)
for f in "$dir"/features/steps/test_files/*.docx; do
  install_file "$f" "docx/$(basename "$f")" "pypi:python-docx==1.2.0:/features/steps/test_files/$(basename "$f")"
done

# ---------------------------------------------------------------------------------------------------------------
# Generated bad inputs (reproducible: same bytes on every machine)

gen() {  # rel source -- command writing the file to "$1"
  local rel="$1" source="$2"; shift 2
  local dst="$FX/$rel"
  if [[ ! -e "$dst" ]]; then
    "$@" "$dst.tmp.$$"
    mv -f "$dst.tmp.$$" "$dst"
  fi
  record "$rel" "$source"
}

gen_empty() { : >"$1"; }
gen_random() {  # 64 KiB: sha256("quire-fixture-random-<n>") for n = 0, 1, …
  python3 -c '
import hashlib, sys
with open(sys.argv[1], "wb") as f:
    for n in range(2048):
        f.write(hashlib.sha256(b"quire-fixture-random-%d" % n).digest())
' "$1"
}
gen_truncated() { head -c 120000 "$DOCS/maint-guide.en.pdf" >"$1"; }
gen_huge() { truncate -s $((600 * 1024 * 1024)) "$1"; }  # sparse: takes no disk space
gen_zip_bomb() {  # a .docx whose document.xml inflates to 1 GiB of spaces (a few MB compressed)
  python3 -c '
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    z.writestr("[Content_Types].xml", "<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"/>")
    with z.open("word/document.xml", "w", force_zip64=True) as f:
        f.write(b"<?xml version=\"1.0\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body><w:p><w:r><w:t>")
        block = b" " * (1 << 20)
        for _ in range(1024):
            f.write(block)
        f.write(b"</w:t></w:r></w:p></w:body></w:document>")
' "$1"
}
gen_many_entries() {  # an .epub with 200,000 empty entries
  python3 -c '
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_STORED) as z:
    z.writestr("mimetype", "application/epub+zip")
    for n in range(200000):
        z.writestr("OEBPS/e%d.xhtml" % n, b"")
' "$1"
}
gen_deep_html() {  # 200,000 nested elements
  python3 -c '
import sys
n = 200000
with open(sys.argv[1], "w") as f:
    f.write("<html><head><title>deep</title></head><body>" + "<div>" * n + "deep text" + "</div>" * n + "</body></html>")
' "$1"
}

gen bad/generated/empty.pdf "generated: zero bytes" gen_empty
gen bad/generated/random.pdf "generated: 64 KiB, sha256 counter stream seeded 'quire-fixture-random-'" gen_random
gen bad/generated/truncated.pdf "generated: first 120000 bytes of docs/maint-guide.en.pdf" gen_truncated
gen bad/generated/huge.pdf "generated: sparse file of 600 MiB (over the default size limit)" gen_huge
gen bad/generated/bomb.docx "generated: zip bomb, word/document.xml inflates to 1 GiB" gen_zip_bomb
gen bad/generated/many-entries.epub "generated: zip with 200,001 entries" gen_many_entries
gen docs/deep.html "generated: 200,000 nested <div> elements" gen_deep_html

# ---------------------------------------------------------------------------------------------------------------
# Manifest: file, bytes, sha256, source

printf 'file\tbytes\tsha256\tsource\n' >"$MANIFEST.tmp.$$"
for row in "${ROWS[@]}"; do
  IFS=$'\t' read -r rel source <<<"$row"
  bytes=$(stat -c %s "$FX/$rel")
  sha=$(sha256sum "$FX/$rel" | cut -d' ' -f1)
  printf '%s\t%s\t%s\t%s\n' "$rel" "$bytes" "$sha" "$source" >>"$MANIFEST.tmp.$$"
done
mv -f "$MANIFEST.tmp.$$" "$MANIFEST"
say "$(( ${#ROWS[@]} )) fixtures in $FX (manifest: $MANIFEST)"
