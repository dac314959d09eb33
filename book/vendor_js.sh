#!/usr/bin/env bash
# Vendor the JavaScript that the built book needs, so that the published site makes no request to a
# CDN when it is viewed:
#   - MathJax 3 (renders the maths),                         -> book/_static/vendor/mathjax/
#   - RequireJS + @jupyter-widgets/html-manager (embed-amd)  -> book/_static/vendor/{requirejs,html-manager}/
#     (render the saved ipywidgets state of executed chapters without a kernel),
#   - book/widgets_setup.js (ours, committed): asset path + MathJax 3 glue for the widgets,
#                                                            -> book/_static/vendor/widgets_setup.js
#   - book/book.css (ours, committed): wrapping of code and outputs  -> book/_static/vendor/book.css
# _config.yml points `mathjax_path` and `nb_ipywidgets_js` at these files, and adds book/_static to
# `html_static_path`. book/_static/ is generated and git-ignored.
#
# Idempotent: when the stamp file lists exactly the pinned versions and the files are there, it does
# nothing. Otherwise it fetches each package with `npm pack NAME@VERSION` into a temporary folder and
# copies the files it needs. Any npm failure stops the script with a non-zero exit status.
set -euo pipefail
cd "$(dirname "$0")"

MATHJAX_VERSION=3.2.2
REQUIREJS_VERSION=2.3.7
HTML_MANAGER_VERSION=1.0.15   # the html-manager release that goes with ipywidgets 8.1.x

DEST=_static/vendor
STAMP=$DEST/VERSIONS
WANT="mathjax@$MATHJAX_VERSION requirejs@$REQUIREJS_VERSION @jupyter-widgets/html-manager@$HTML_MANAGER_VERSION"
NEEDED=(
  "$DEST/mathjax/tex-chtml.js"
  "$DEST/mathjax/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff"
  "$DEST/requirejs/require.js"
  "$DEST/html-manager/embed-amd.js"
)

all_present() {
  local f
  for f in "${NEEDED[@]}"; do [ -s "$f" ] || return 1; done
}

# Our own small setup script for the widget pages (committed as book/widgets_setup.js).
install_setup_js() {
  mkdir -p "$DEST"
  cmp -s widgets_setup.js "$DEST/widgets_setup.js" || cp widgets_setup.js "$DEST/widgets_setup.js"
  cmp -s book.css "$DEST/book.css" || cp book.css "$DEST/book.css"
}

if [ "$(cat "$STAMP" 2>/dev/null)" = "$WANT" ] && all_present; then
  install_setup_js
  echo "[vendor_js] up to date: $WANT"
  exit 0
fi

command -v npm >/dev/null 2>&1 || { echo "[vendor_js] ERROR: npm is not installed (needed once to vendor $WANT)" >&2; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

fetch() {  # fetch NAME VERSION SUBDIR: unpack NAME@VERSION into $TMP/SUBDIR/package
  local name=$1 version=$2 sub=$3 tgz
  echo "[vendor_js] npm pack $name@$version"
  mkdir -p "$TMP/$sub"
  if ! tgz=$(cd "$TMP/$sub" && npm pack --loglevel=error "$name@$version"); then
    echo "[vendor_js] ERROR: 'npm pack $name@$version' failed" >&2
    exit 1
  fi
  tgz=$(printf '%s\n' "$tgz" | tail -n 1)
  [ -s "$TMP/$sub/$tgz" ] || { echo "[vendor_js] ERROR: npm pack produced no tarball for $name@$version" >&2; exit 1; }
  tar -xzf "$TMP/$sub/$tgz" -C "$TMP/$sub"
  local got
  got=$(node -p "require('$TMP/$sub/package/package.json').version")
  [ "$got" = "$version" ] || { echo "[vendor_js] ERROR: wanted $name@$version, got $got" >&2; exit 1; }
}

fetch mathjax "$MATHJAX_VERSION" mathjax
fetch requirejs "$REQUIREJS_VERSION" requirejs
fetch @jupyter-widgets/html-manager "$HTML_MANAGER_VERSION" html-manager

NEW=$TMP/vendor
mkdir -p "$NEW/mathjax" "$NEW/requirejs" "$NEW/html-manager"

# MathJax: the combined TeX->CHTML component plus what it loads lazily (TeX extensions, fonts,
# menu, accessibility and speech-rule engine), all resolved relative to tex-chtml.js.
mj=$TMP/mathjax/package
cp "$mj/LICENSE" "$NEW/mathjax/"
cp "$mj/es5/tex-chtml.js" "$NEW/mathjax/"
cp -r "$mj/es5/input" "$mj/es5/ui" "$mj/es5/a11y" "$mj/es5/sre" "$mj/es5/adaptors" "$NEW/mathjax/"
mkdir -p "$NEW/mathjax/output"
cp -r "$mj/es5/output/chtml" "$mj/es5/output/chtml.js" "$NEW/mathjax/output/"

# RequireJS (AMD loader that embed-amd.js needs).
cp "$TMP/requirejs/package/require.js" "$NEW/requirejs/"

# html-manager: the AMD embed bundle and the icon fonts its CSS refers to (resolved next to it).
hm=$TMP/html-manager/package/dist
cp "$hm/embed-amd.js" "$NEW/html-manager/"
for ext in woff2 woff ttf eot svg; do
  cp "$hm"/*."$ext" "$NEW/html-manager/" 2>/dev/null || true
done
[ -f "$hm/embed.js.LICENSE.txt" ] && cp "$hm/embed.js.LICENSE.txt" "$NEW/html-manager/LICENSE.txt"

echo "$WANT" > "$NEW/VERSIONS"
rm -rf "$DEST"
mkdir -p "$(dirname "$DEST")"
mv "$NEW" "$DEST"
install_setup_js
all_present || { echo "[vendor_js] ERROR: files missing after vendoring" >&2; exit 1; }
echo "[vendor_js] vendored $WANT into book/$DEST ($(du -sh "$DEST" | cut -f1))"
