#!/usr/bin/env bash
# weights/fetch.sh -- download the published ImageNet weights and mean image, verify their SHA-1
# sums, and convert them to dlbhc weights files with `dlbhc convert`.
#
#   bvlc_reference_caffenet.caffemodel -> caffenet.weights       (CaffeNet; the authors' start point)
#   bvlc_alexnet.caffemodel            -> alexnet.weights        (BVLC AlexNet)
#   imagenet_mean.binaryproto          -> imagenet_mean.weights  (tensor "mean", (3, 256, 256), BGR)
#
# Needs internet (curl or wget), sha1sum, tar and a built dlbhc (`make`). Nothing is left half
# done: each download goes to "<name>.part.<pid>" and becomes "<name>" only after its SHA-1
# matches; a failed download or a wrong sum removes the partial file and exits non-zero; convert
# writes atomically. Files already present with the right sum are not downloaded again.
# See weights/README.md, "weights/fetch.sh".
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usage() {
    cat <<EOF
usage: weights/fetch.sh [--dest DIR] [--from DIR] [--dlbhc PATH] [--only LIST]
  --dest DIR    where the downloads and .weights files go (default: $HERE)
  --from DIR    copy the files from DIR instead of downloading them (an offline mirror; DIR may
                hold imagenet_mean.binaryproto or caffe_ilsvrc12.tar.gz)
  --dlbhc PATH  the dlbhc program (default: \$DLBHC, else build/dlbhc beside weights/)
  --only LIST   comma-separated subset of: caffenet,alexnet,mean (default: all three)
For mirrors and tests, the expected SHA-1 sums can be overridden with DLBHC_SHA1_CAFFENET,
DLBHC_SHA1_ALEXNET and DLBHC_SHA1_MEAN, and the addresses with DLBHC_URL_CAFFENET,
DLBHC_URL_ALEXNET and DLBHC_URL_MEAN_TAR (any URL curl or wget accepts, e.g. file:///...).
EOF
}

DEST="$HERE"
FROM=""
DLBHC_BIN="${DLBHC:-$HERE/../build/dlbhc}"
ONLY="caffenet,alexnet,mean"
while [ $# -gt 0 ]; do
    case "$1" in
    --dest) DEST="${2:?--dest needs a folder}"; shift 2 ;;
    --from) FROM="${2:?--from needs a folder}"; shift 2 ;;
    --dlbhc) DLBHC_BIN="${2:?--dlbhc needs a path}"; shift 2 ;;
    --only) ONLY="${2:?--only needs a list}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "fetch.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

# Published sums: Caffe's model zoo pages (models/bvlc_reference_caffenet/readme.md and
# models/bvlc_alexnet/readme.md, "sha1:"). Caffe publishes no sum for the mean; this one is of the
# imagenet_mean.binaryproto that ships with the authors' code (kevinlin311tw/caffe-cvprw15,
# data/ilsvrc12/), written by Caffe; that the copy in Caffe's caffe_ilsvrc12.tar.gz is the same
# file could not be checked offline (if the sum differs, that is the first thing to look at).
SHA1_CAFFENET="${DLBHC_SHA1_CAFFENET:-4c8d77deb20ea792f84eb5e6d0a11ca0a8660a46}"
SHA1_ALEXNET="${DLBHC_SHA1_ALEXNET:-9116a64c0fbe4459d18f4bb6b56d647b63920377}"
SHA1_MEAN="${DLBHC_SHA1_MEAN:-63e4652e656abc1e87b7a8339a7e02fca63a2c0c}"
URL_CAFFENET="${DLBHC_URL_CAFFENET:-http://dl.caffe.berkeleyvision.org/bvlc_reference_caffenet.caffemodel}"
URL_ALEXNET="${DLBHC_URL_ALEXNET:-http://dl.caffe.berkeleyvision.org/bvlc_alexnet.caffemodel}"
URL_MEAN_TAR="${DLBHC_URL_MEAN_TAR:-http://dl.caffe.berkeleyvision.org/caffe_ilsvrc12.tar.gz}"

die() { echo "fetch.sh: error: $*" >&2; exit 1; }

command -v sha1sum >/dev/null || die "sha1sum not found (Debian package coreutils)"
[ -x "$DLBHC_BIN" ] || die "dlbhc program not found at '$DLBHC_BIN' (run make, or pass --dlbhc PATH)"
mkdir -p "$DEST" || die "cannot create '$DEST'"

# Everything temporary is registered here and removed on any exit.
TEMPS=()
cleanup() { [ ${#TEMPS[@]} -eq 0 ] || rm -rf -- "${TEMPS[@]}"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

download() {  # url target
    if [ -n "$FROM" ]; then die "internal: download() called with --from"; fi
    echo "fetch.sh: downloading $1"
    if command -v curl >/dev/null; then
        curl -fL --retry 3 --connect-timeout 30 -o "$2" "$1" || die "download of $1 failed (curl exit $?)"
    elif command -v wget >/dev/null; then
        wget -O "$2" "$1" || die "download of $1 failed (wget exit $?)"
    else
        die "neither curl nor wget is installed"
    fi
}

sha1_of() { sha1sum "$1" | cut -d' ' -f1; }

# Puts a verified copy of file $1 into $DEST: fetch_to PART (a function writing the .part file).
get_verified() {  # name expected-sha1 fetch-function
    local name="$1" want="$2" fetch="$3" final="$DEST/$1"
    if [ -f "$final" ]; then
        local have
        have="$(sha1_of "$final")"
        if [ "$have" = "$want" ]; then
            echo "fetch.sh: $final present, SHA-1 ok"
            return 0
        fi
        die "$final exists but its SHA-1 is $have, expected $want: remove it and run again"
    fi
    local part="$final.part.$$"
    TEMPS+=("$part")
    "$fetch" "$part"
    local have
    have="$(sha1_of "$part")"
    if [ "$have" != "$want" ]; then
        rm -f -- "$part"
        die "$name: SHA-1 mismatch: expected $want, found $have (file removed)"
    fi
    mv -f -- "$part" "$final"
    echo "fetch.sh: $final SHA-1 ok"
}

fetch_caffenet() {
    if [ -n "$FROM" ]; then cp -- "$FROM/bvlc_reference_caffenet.caffemodel" "$1" || die "cannot copy from $FROM"
    else download "$URL_CAFFENET" "$1"; fi
}
fetch_alexnet() {
    if [ -n "$FROM" ]; then cp -- "$FROM/bvlc_alexnet.caffemodel" "$1" || die "cannot copy from $FROM"
    else download "$URL_ALEXNET" "$1"; fi
}
fetch_mean() {  # the mean comes inside Caffe's ILSVRC12 auxiliary tarball
    if [ -n "$FROM" ] && [ -f "$FROM/imagenet_mean.binaryproto" ]; then
        cp -- "$FROM/imagenet_mean.binaryproto" "$1" || die "cannot copy from $FROM"
        return
    fi
    local tmp
    tmp="$(mktemp -d "$DEST/.fetch_mean.XXXXXX")"
    TEMPS+=("$tmp")
    if [ -n "$FROM" ]; then
        [ -f "$FROM/caffe_ilsvrc12.tar.gz" ] || die "$FROM holds neither imagenet_mean.binaryproto nor caffe_ilsvrc12.tar.gz"
        cp -- "$FROM/caffe_ilsvrc12.tar.gz" "$tmp/aux.tar.gz" || die "cannot copy from $FROM"
    else
        download "$URL_MEAN_TAR" "$tmp/aux.tar.gz"
    fi
    tar -xzf "$tmp/aux.tar.gz" -C "$tmp" imagenet_mean.binaryproto ||
        die "caffe_ilsvrc12.tar.gz: could not extract imagenet_mean.binaryproto"
    mv -f -- "$tmp/imagenet_mean.binaryproto" "$1"
}

convert() {  # input output
    echo "fetch.sh: converting $1 -> $2"
    "$DLBHC_BIN" convert "$1" "$2" >/dev/null || die "dlbhc convert $1 failed (no output written)"
    echo "fetch.sh: wrote $2"
}

IFS=',' read -r -a items <<<"$ONLY"
for item in "${items[@]}"; do
    case "$item" in
    caffenet | alexnet | mean) ;;
    *) die "--only: unknown item '$item' (expected caffenet, alexnet, mean)" ;;
    esac
done
for item in "${items[@]}"; do
    case "$item" in
    caffenet)
        get_verified bvlc_reference_caffenet.caffemodel "$SHA1_CAFFENET" fetch_caffenet
        convert "$DEST/bvlc_reference_caffenet.caffemodel" "$DEST/caffenet.weights" ;;
    alexnet)
        get_verified bvlc_alexnet.caffemodel "$SHA1_ALEXNET" fetch_alexnet
        convert "$DEST/bvlc_alexnet.caffemodel" "$DEST/alexnet.weights" ;;
    mean)
        get_verified imagenet_mean.binaryproto "$SHA1_MEAN" fetch_mean
        convert "$DEST/imagenet_mean.binaryproto" "$DEST/imagenet_mean.weights" ;;
    esac
done
echo "fetch.sh: done"
