#!/usr/bin/env bash
# Packs the build's non-CUDA dependencies, as Debian 12 installed them here, into one compressed
# archive that travels with the checkout to a GPU machine that has the CUDA toolkit but no package
# registry and none of these -dev packages (bench/gpu_check.sh unpacks and builds against it).
#
#   bench/pack_gpu_deps.sh [output-dir]      # default: .gpudeps/ in the repository root (git-ignored)
#
# Output: <output-dir>/gpudeps.tar.xz (about 8 MB) and <output-dir>/MANIFEST.txt. The archive holds
# prefix/ laid out exactly as the files sit under /usr (include/, lib/x86_64-linux-gnu/, share/),
# so the packages' own CMake config files, which locate themselves relative to their folder, work
# unchanged from any place the prefix is unpacked to; CMAKE_PREFIX_PATH=<dir>/prefix finds all.
#
# Runtime dependencies (checked with ldd when packing; MANIFEST.txt lists them):
#   libdnnl.so.2  -> libOpenCL.so.1 (packed), libgomp.so.1, libstdc++.so.6, libm, libc
#   libpng16.so.16 -> libz.so.1 (packed, with zlib's headers: CMake's FindPNG wants ZLIB)
#   libbenchmark.so.1, libstb.so.0, libjpeg.so.62 -> libstdc++/libm/libc only
# The newest symbol versions they need are written to MANIFEST.txt (GLIBC 2.34, GLIBCXX 3.4.30 on
# Debian 12): an Ubuntu 22.04+ machine (glibc >= 2.35, libstdc++ of GCC >= 12) satisfies them.
# libgomp.so.1 comes with the GPU machine's own GCC (it must: OpenMP's omp.h is GCC's); a copy of
# Debian's is packed under lib/x86_64-linux-gnu/fallback/ for a machine whose GCC lacks it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/.gpudeps}
arch=x86_64-linux-gnu

# Development packages whose headers, CMake files and libraries the build uses, and the runtime
# packages that hold the shared libraries those link to.
packages=(libdnnl-dev libdnnl2 ocl-icd-libopencl1
          libeigen3-dev
          libpng-dev libpng16-16 zlib1g-dev zlib1g
          libstb-dev libstb0
          libjpeg62-turbo-dev libjpeg62-turbo
          libcli11-dev catch2 nlohmann-json3-dev
          libbenchmark-dev libbenchmark1debian)

missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "pack_gpu_deps: these Debian packages are not installed: ${missing[*]}" >&2
    echo "  apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
mkdir -p "$prefix"

# Every file of the packages below /usr or /lib except documentation, pkg-config files, static
# archives of libraries that also come shared, and oneDNN's SYCL/OpenCL headers' friends: kept as
# Debian laid them out (symlinks stay symlinks). /lib/<arch> (zlib's runtime) is folded into lib/.
for p in "${packages[@]}"; do
    dpkg -L "$p"
done | sort -u | while read -r path; do
    [[ -f $path || -L $path ]] || continue
    case $path in
        /usr/share/doc/* | /usr/share/man/* | /usr/share/lintian/* | /usr/share/bug/*) continue ;;
        */pkgconfig/*) continue ;;
        "/usr/lib/$arch/"libpng*.a | "/usr/lib/$arch/libz.a" | "/usr/lib/$arch/libjpeg.a" | "/usr/lib/$arch/libstb.a") continue ;;
        /usr/*) rel=${path#/usr/} ;;
        /lib/*) rel=lib/${path#/lib/} ;;
        *) continue ;;
    esac
    mkdir -p "$prefix/$(dirname "$rel")"
    cp -P "$path" "$prefix/$rel"
done

# Multiarch headers (libjpeg-turbo's jconfig.h) sit in include/<arch>/, which GCC searches on its
# own only under /usr: a copy in include/ lets jpeglib.h's #include "jconfig.h" find it elsewhere.
# (gpu_check.sh --dry-run caught the build taking this machine's /usr copy.)
if [[ -d $prefix/include/$arch ]]; then
    for header in "$prefix/include/$arch"/*; do
        [[ -e $prefix/include/$(basename "$header") ]] || cp -P "$header" "$prefix/include/"
    done
fi

# zlib1g's runtime lives in /lib on some Debian layouts: make sure the dev symlink resolves inside.
libdir=$prefix/lib/$arch
if [[ -L $libdir/libz.so && ! -e $libdir/libz.so ]]; then
    cp -P /usr/lib/$arch/libz.so.1* "$libdir/" 2>/dev/null || cp -P /lib/$arch/libz.so.1* "$libdir/"
fi
mkdir -p "$libdir/fallback"
cp -L "$(ldconfig -p | awk '/libgomp.so.1 .*x86-64/ {print $NF; exit}')" "$libdir/fallback/libgomp.so.1"

# Every symlink must resolve inside the prefix, or the archive would point at this machine's /usr.
broken=$(find "$prefix" -xtype l)
if [[ -n $broken ]]; then
    echo "pack_gpu_deps: dangling symlinks in the packed prefix:" >&2
    echo "$broken" >&2
    exit 1
fi

{
    echo "sr GPU-machine dependencies, packed $(date -u +%Y-%m-%dT%H:%MZ) on $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "glibc here: $(getconf GNU_LIBC_VERSION)"
    echo
    echo "packages:"
    for p in "${packages[@]}"; do
        echo "  $p $(dpkg-query -W -f='${Version}' "$p")"
    done
    echo
    echo "shared libraries, their needed libraries and the newest symbol versions they use:"
    find "$libdir" -maxdepth 1 -type f -name '*.so*' | sort | while read -r lib; do
        needed=$(objdump -p "$lib" | awk '/NEEDED/ {print $2}' | tr '\n' ' ')
        versions=""
        for kind in GLIBC GLIBCXX CXXABI GOMP; do
            newest=$(objdump -T "$lib" | grep -oE "${kind}_[0-9][0-9.]*" | sort -uV | tail -1 || true)
            [[ -n $newest ]] && versions+="$newest "
        done
        echo "  $(basename "$lib"): needs ${needed}; uses ${versions}"
    done
} >"$work/MANIFEST.txt"
cp "$work/MANIFEST.txt" "$prefix/MANIFEST.txt"

mkdir -p "$out"
if command -v xz >/dev/null 2>&1; then
    tar -C "$work" -cf - prefix | xz -T2 -9 >"$out/gpudeps.tar.xz.tmp"
else  # xz-utils is not in minimal Debian images; Python's lzma writes the same format
    python3 -c 'import sys, tarfile
with tarfile.open(sys.argv[1], "w:xz", preset=9) as t: t.add(sys.argv[2], arcname="prefix")' "$out/gpudeps.tar.xz.tmp" "$prefix"
fi
mv "$out/gpudeps.tar.xz.tmp" "$out/gpudeps.tar.xz"
cp "$work/MANIFEST.txt" "$out/MANIFEST.txt"
echo "pack_gpu_deps: $(du -h "$out/gpudeps.tar.xz" | cut -f1) in $out/gpudeps.tar.xz ($(du -sh "$prefix" | cut -f1) unpacked)"
