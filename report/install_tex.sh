#!/usr/bin/env bash
# Make sure the PDF route of the report has what it needs: XeLaTeX, pandoc, fonts
# that carry every character a novel may bring, and pdftotext/pdftoppm for checks.
# Installs with apt-get where it may (root on Debian/Ubuntu); elsewhere prints the
# exact command and exits 1 (the report then builds its HTML only).
set -euo pipefail

PACKAGES="texlive-xetex texlive-fonts-recommended texlive-plain-generic pandoc poppler-utils fonts-dejavu-core fonts-dejavu-extra"

have_all() {
    local fonts
    # Read the list whole: grep -q closing the pipe early would fail it under pipefail.
    fonts=$(fc-list : file 2>/dev/null || true)
    command -v xelatex >/dev/null && command -v pandoc >/dev/null && command -v pdftotext >/dev/null \
        && [[ $fonts == *DejaVuSansMono.ttf* && $fonts == *DejaVuSerif.ttf* && $fonts == *DejaVuSerif-Italic.ttf* ]]
}

if have_all; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing the PDF toolchain: $PACKAGES"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
    have_all && exit 0
    echo "error: installed $PACKAGES but xelatex, pandoc, pdftotext or the DejaVu fonts are still missing" >&2
    exit 1
fi
echo "The PDF report needs XeLaTeX, pandoc and the DejaVu fonts. Install them with:" >&2
echo "    sudo apt-get install $PACKAGES" >&2
echo "(macOS: brew install --cask mactex-no-gui && brew install pandoc; fonts: DejaVu)." >&2
echo "Building the HTML report only." >&2
exit 1
