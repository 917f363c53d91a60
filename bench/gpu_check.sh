#!/usr/bin/env bash
# The GPU check: on a bare machine with an NVIDIA GPU (H100/H200) and the CUDA toolkit, but no
# package registry and none of Debian's -dev packages, build sr against the dependencies that
# bench/pack_gpu_deps.sh packed (.gpudeps/gpudeps.tar.xz, carried with the checkout), run the
# CUDA tests, the GPU benchmarks and the PyTorch peer comparison, and write ONE markdown report.
#
#   bench/pack_gpu_deps.sh                                # here, once: makes .gpudeps/
#   bench/gpu_check.sh --out "$OUT"                       # there: report in $OUT/gpu_report.md
#   bench/gpu_check.sh --dry-run --out build-x/gpu-check  # anywhere without a GPU (CI)
#
# Options: --out DIR (report and logs; default $OUT, else ./gpu-check), --build DIR (default
# /tmp/sr-gpu-check/build, build-gpu-dry/ for --dry-run), --jobs N (default nproc),
# --deps FILE (default .gpudeps/gpudeps.tar.xz), --targets "t1 t2" (what to build; default the
# test suite and both GPU benches), --budget SECONDS (whole run, default 570; each phase's time box
# grows in proportion, for slow machines such as a 2-core CI runner).
#
# Phases, each time-boxed so the whole run ends inside --budget (a GPU hour is rare: a hang must
# not eat it): machine facts, unpack deps, find cuDNN (toolkit, system, or the Python wheel
# nvidia-cudnn-cu13, whose libraries lack the unversioned names a linker wants: a folder of
# symlinks supplies them), configure (Release, SR_WITH_CUDA=ON, CMAKE_CUDA_ARCHITECTURES=90
# unless SR_GPU_CHECK_ARCH says otherwise), build, ctest -L cuda, bench/gpu_conv_bench,
# bench/pytorch_gpu_peer.py (runs bench/gpu_model_bench and the same models in PyTorch).
# --dry-run does all of it except the GPU part: the build uses the packed deps exactly as on the
# GPU machine, and then checks that no header or library of a packed package came from this
# machine's /usr (which would hide a missing piece of the pack); ctest -L cuda shows the GPU tests
# skipped; benches and the peer script are skipped with a message.
# Exit status: 0 when every phase that ran passed, 1 otherwise (the report says which).
set -uo pipefail
export LC_ALL=C

root=$(cd "$(dirname "$0")/.." && pwd)
dry_run=0
out=${OUT:-$root/gpu-check}
build=""
jobs=$(nproc)
deps=$root/.gpudeps/gpudeps.tar.xz
targets=""
budget=570
while (($#)); do
    case $1 in
        --dry-run) dry_run=1 ;;
        --out) out=$2; shift ;;
        --build) build=$2; shift ;;
        --jobs) jobs=$2; shift ;;
        --deps) deps=$2; shift ;;
        --targets) targets=$2; shift ;;
        --budget) budget=$2; shift ;;
        -h | --help) sed -n '2,30p' "$0"; exit 0 ;;
        *) echo "gpu_check: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [[ -z $build ]]; then
    if ((dry_run)); then build=$root/build-gpu-dry; else build=/tmp/sr-gpu-check/build; fi
fi
targets=${targets:-"sr_tests gpu_model_bench gpu_conv_bench"}
arch=${SR_GPU_CHECK_ARCH:-90}
start=$(date +%s)
deadline=$((start + budget))
mkdir -p "$out/logs" "$build"
out=$(cd "$out" && pwd)
build=$(cd "$build" && pwd)
work=$(dirname "$build")/gpu-check-work
mkdir -p "$work"
report=$out/gpu_report.md
: >"$report"
failed=0
phase_rows=()

note() { echo "gpu_check: $*"; }
section() { printf '\n## %s\n\n' "$1" >>"$report"; }
# Seconds a phase may take: its own cap, but never past the deadline minus what the phases after
# it are promised (reserve).
time_box() {
    # Caps and reserves are sized for the default budget; a longer --budget (a 2-core CI machine)
    # stretches them alike.
    local cap=$(($1 * budget / 570)) reserve=$(($2 * budget / 570)) left
    left=$((deadline - $(date +%s) - reserve))
    ((left < cap)) && cap=$left
    ((cap < 5)) && cap=5
    echo "$cap"
}
# run_phase NAME CAP RESERVE CMD...: runs CMD with a time box, output to logs/NAME.log, and
# records status and seconds for the report's phase table.
run_phase() {
    local name=$1 cap=$2 reserve=$3 t0 status verdict
    shift 3
    cap=$(time_box "$cap" "$reserve")
    note "$name (at most ${cap}s)"
    t0=$(date +%s)
    if declare -F "$1" >/dev/null; then
        # A shell function runs in a child bash (timeout runs programs): hand it the function.
        # shellcheck disable=SC2163
        export -f "$1"
        timeout --kill-after=10 "$cap" bash -c '"$@"' bash "$@" >"$out/logs/$name.log" 2>&1
    else
        timeout --kill-after=10 "$cap" "$@" >"$out/logs/$name.log" 2>&1
    fi
    status=$?
    case $status in
        0) verdict=passed ;;
        124 | 137) verdict="TIMED OUT after ${cap}s"; failed=1 ;;
        *) verdict="FAILED (exit $status)"; failed=1 ;;
    esac
    phase_rows+=("| $name | $verdict | $(($(date +%s) - t0)) |")
    note "$name: $verdict"
    return $status
}
skip_phase() {
    phase_rows+=("| $1 | skipped: $2 | 0 |")
    note "$1 skipped: $2"
}
log_tail() {
    printf '\n<details><summary>last lines of logs/%s.log</summary>\n\n```\n' "$1" >>"$report"
    tail -n "${2:-40}" "$out/logs/$1.log" >>"$report" 2>/dev/null
    printf '```\n</details>\n' >>"$report"
}

# ---- tools: the GPU image has CMake and ninja as Python packages next to its python3 ----
# The python3 that has PyTorch (the GPU image's does; Debian's python3-torch is /usr/bin/python3).
python=""
for candidate in python3 /usr/bin/python3; do
    candidate=$(command -v "$candidate" 2>/dev/null) || continue
    [[ -z $python ]] && python=$candidate
    if timeout 60 "$candidate" -c 'import torch' >/dev/null 2>&1; then python=$candidate; break; fi
done
pybin=""
[[ -n $python ]] && pybin=$(dirname "$("$python" -c 'import sys; print(sys.executable)' 2>/dev/null || echo "$python")")
find_tool() { command -v "$1" 2>/dev/null || { [[ -n $pybin && -x $pybin/$1 ]] && echo "$pybin/$1"; } || true; }
cmake=$(find_tool cmake)
ctest=$(find_tool ctest)
[[ -z $ctest && -n $cmake ]] && ctest=$(dirname "$cmake")/ctest
ninja=$(find_tool ninja)
nvcc=$(command -v nvcc 2>/dev/null || { [[ -x /usr/local/cuda/bin/nvcc ]] && echo /usr/local/cuda/bin/nvcc; } || true)
cuda_home=${CUDA_HOME:-$([[ -n $nvcc ]] && cd "$(dirname "$nvcc")/.." && pwd)}

# ---- machine facts ----
gpu_line="none"
has_gpu=0
if command -v nvidia-smi >/dev/null 2>&1 &&
    gpu_line=$(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,compute_cap --format=csv,noheader 2>/dev/null | head -1) &&
    [[ -n $gpu_line ]]; then
    has_gpu=1
else
    gpu_line="none (nvidia-smi absent or no device)"
fi
cudnn_header_version() {
    local h=$1/cudnn_version.h
    [[ -f $h ]] || return 1
    awk '/#define CUDNN_MAJOR/ {a=$3} /#define CUDNN_MINOR/ {b=$3} /#define CUDNN_PATCHLEVEL/ {c=$3} END {print a"."b"."c}' "$h"
}
torch_line="absent"
if [[ -n $python ]]; then
    torch_line=$(timeout 60 "$python" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version(), "GPU" if torch.cuda.is_available() else "no GPU")' 2>/dev/null || echo absent)
fi
{
    echo "# sr GPU check"
    echo
    if ((dry_run)); then echo "**Dry run** (no GPU part): $(date -u '+%Y-%m-%d %H:%M UTC')"; else echo "$(date -u '+%Y-%m-%d %H:%M UTC')"; fi
    echo
    echo "| | |"
    echo "| --- | --- |"
    echo "| GPU (name, driver, memory, max SM clock, compute capability) | $gpu_line |"
    echo "| CPU | $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(nproc) threads |"
    echo "| OS, glibc | $( (. /etc/os-release && echo "$PRETTY_NAME") 2>/dev/null), $(getconf GNU_LIBC_VERSION) |"
    echo "| compilers | $(c++ --version 2>/dev/null | head -1); nvcc $([[ -n $nvcc ]] && "$nvcc" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p') ($nvcc) |"
    echo "| CMake, ninja | $([[ -n $cmake ]] && "$cmake" --version | head -1) ($cmake); ${ninja:-no ninja} |"
    echo "| PyTorch | $torch_line |"
    echo "| source | $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "not a git checkout") $(git -C "$root" status --porcelain 2>/dev/null | grep -q . && echo "(with uncommitted changes)") |"
} >>"$report"

if [[ -z $cmake || -z $nvcc ]]; then
    section "Result"
    echo "Cannot build: $([[ -z $cmake ]] && echo "no cmake") $([[ -z $nvcc ]] && echo "no nvcc (CUDA toolkit)") on this machine." >>"$report"
    note "no cmake or nvcc; see $report"
    exit 1
fi

# Where each dependency was found, from the CMake cache: the report shows it, the dry run checks it.
dep_vars="Eigen3_DIR Catch2_DIR CLI11_DIR nlohmann_json_DIR benchmark_DIR SR_DNNL_INCLUDE_DIR SR_DNNL_LIBRARY
PNG_LIBRARY_RELEASE PNG_PNG_INCLUDE_DIR ZLIB_LIBRARY_RELEASE ZLIB_INCLUDE_DIR JPEG_LIBRARY_RELEASE JPEG_INCLUDE_DIR
SR_STB_INCLUDE_DIR SR_STB_LIBRARY"

# ---- phase: unpack the packed dependencies ----
prefix=$work/deps/prefix
shim=$work/cuda-shim
# The phases' functions run in child shells (run_phase): they see these through the environment.
export root deps prefix shim work build out python cmake ninja nvcc arch dep_vars cudnn_root
unpack() {
    [[ -f $deps ]] || { echo "no $deps: run bench/pack_gpu_deps.sh on the development machine first"; return 1; }
    rm -rf "$work/deps" && mkdir -p "$work/deps"
    if command -v xz >/dev/null 2>&1; then
        tar -C "$work/deps" -xJf "$deps"
    else
        "$python" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$deps" "$work/deps"
    fi || return 1
    cat "$prefix/MANIFEST.txt"
    # Every packed library must load here: ldd names a missing library or a symbol version this
    # machine's glibc/libstdc++ lacks. libgomp comes from the machine's GCC, else from the pack.
    local libdir=$prefix/lib/x86_64-linux-gnu problems
    export LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    if ! ldconfig -p 2>/dev/null | grep -q 'libgomp.so.1 '; then
        echo "this machine has no libgomp.so.1: using Debian's from the pack"
        export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$libdir/fallback
    fi
    problems=$(for lib in "$libdir"/*.so.*; do [[ -L $lib ]] || ldd "$lib" 2>&1 | sed "s|^|$(basename "$lib"): |"; done | grep -E 'not found|version .* not found')
    if [[ -n $problems ]]; then
        echo "packed libraries that do not load on this machine:"
        echo "$problems"
        return 1
    fi
    echo "all packed libraries load here (ldd)"
}
export LD_LIBRARY_PATH=$prefix/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
run_phase unpack 60 480 unpack
# unpack ran in a child shell: repeat its one lasting effect here.
ldconfig -p 2>/dev/null | grep -q 'libgomp.so.1 ' || export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$prefix/lib/x86_64-linux-gnu/fallback

# ---- find cuDNN (and cuBLAS, should the toolkit lack it) ----
rm -rf "$shim" && mkdir -p "$shim/include" "$shim/lib"
cudnn_where=""
cudnn_version=""
cudnn_root=""
for dir in ${CUDNN_ROOT:+$CUDNN_ROOT/include} "$cuda_home/include" /usr/include /usr/include/x86_64-linux-gnu; do
    if v=$(cudnn_header_version "$dir"); then
        cudnn_where=$dir; cudnn_version=$v; cudnn_root=${CUDNN_ROOT:-$(dirname "${dir%/x86_64-linux-gnu}")}
        break
    fi
done
# Links each header and library of a wheel's folder into the shim, adding the unversioned library
# names (libcudnn.so -> libcudnn.so.9) that find_library and the linker look for.
shim_wheel() {
    local dir=$1 f base
    for f in "$dir"/include/*.h; do [[ -e $f ]] && ln -sf "$f" "$shim/include/"; done
    for f in "$dir"/lib/*.so*; do
        [[ -e $f ]] || continue
        base=$(basename "$f")
        ln -sf "$f" "$shim/lib/$base"
        ln -sf "$f" "$shim/lib/${base%%.so*}.so"
    done
    export LD_LIBRARY_PATH=$dir/lib:$LD_LIBRARY_PATH
}
wheel_dir() { [[ -n $python ]] && "$python" -c "import nvidia.$1 as m; print(list(m.__path__)[0])" 2>/dev/null; }
if [[ -z $cudnn_where ]] && d=$(wheel_dir cudnn) && [[ -n $d ]]; then
    shim_wheel "$d"
    cudnn_where="$d (Python wheel nvidia-cudnn-cu13, linked through $shim)"
    cudnn_root=$shim
    cudnn_version=$(cudnn_header_version "$d/include")
fi
if [[ ! -e $cuda_home/lib64/libcublasLt.so && ! -e $cuda_home/lib/x64/libcublasLt.so ]] &&
    d=$(wheel_dir cublas) && [[ -n $d ]]; then
    shim_wheel "$d"
    echo "cuBLAS from the Python wheel nvidia-cublas ($d)" >>"$out/logs/unpack.log"
fi
printf '| cuDNN | %s %s |\n' "${cudnn_version:-not found}" "${cudnn_where:+at $cudnn_where}" >>"$report"

# ---- configure ----
configure() {
    local generator=()
    [[ -n $ninja ]] && generator=(-G Ninja -DCMAKE_MAKE_PROGRAM="$ninja")
    rm -f "$build/CMakeCache.txt"
    "$cmake" -S "$root" -B "$build" "${generator[@]}" \
        -DCMAKE_BUILD_TYPE=Release \
        -DSR_WITH_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES="$arch" \
        -DSR_BUILD_TESTS=ON -DSR_BUILD_TOOLS=ON -DSR_BUILD_BENCH=ON \
        -DCMAKE_PREFIX_PATH="$prefix;$shim" ${cudnn_root:+-DCUDNN_ROOT="$cudnn_root"} \
        -DCMAKE_POLICY_VERSION_MINIMUM=3.5 \
        -DCMAKE_CXX_COMPILER_LAUNCHER="${CMAKE_CXX_COMPILER_LAUNCHER:-}" \
        -DCMAKE_CUDA_COMPILER_LAUNCHER="${CMAKE_CUDA_COMPILER_LAUNCHER:-}"
}
configured=0
run_phase configure 120 420 configure && configured=1

if ((configured)); then
    section "Dependencies as configured"
    {
        echo "| variable | value |"
        echo "| --- | --- |"
        for v in $dep_vars; do
            value=$(sed -n "s/^$v:[A-Z]*=//p" "$build/CMakeCache.txt" | head -1)
            [[ -n $value ]] && echo "| $v | ${value/#$work/…} |"
        done
        grep -iE '^[A-Za-z_]*cudnn[A-Za-z_]*:(FILEPATH|PATH)=' "$build/CMakeCache.txt" | sed 's/:[A-Z]*=/ | /; s/^/| /; s/$/ |/'
        grep -E '^CMAKE_CUDA_ARCHITECTURES:' "$build/CMakeCache.txt" | sed 's/:[A-Z]*=/ | /; s/^/| /; s/$/ |/'
    } >>"$report"
fi

# ---- build ----
built=0
if ((configured)); then
    # shellcheck disable=SC2086
    run_phase build 420 150 "$cmake" --build "$build" -j"$jobs" --target $targets && built=1
fi

# ---- dry run: prove the pack is complete (nothing of a packed package came from /usr) ----
packed_files() {
    awk '/^packages:/ {on=1; next} on && NF == 2 {print $1} on && NF == 0 {exit}' "$prefix/MANIFEST.txt" |
        xargs -r dpkg -L 2>/dev/null | grep -E '^/usr/(include|lib)/' | sort -u
}
export -f packed_files
verify_pack() {
    local leaks=0 used
    for v in $dep_vars; do
        value=$(sed -n "s/^$v:[A-Z]*=//p" "$build/CMakeCache.txt" | head -1)
        if [[ -n $value && $value != "$prefix"* && $value != *-NOTFOUND ]]; then
            echo "LEAK: $v = $value (outside the packed prefix)"
            leaks=1
        fi
    done
    if [[ -f $build/build.ninja ]]; then
        used=$(cd "$build" && "$ninja" -t deps 2>/dev/null | awk 'NF == 1 {print $1}' | sort -u)
    else
        used=$(find "$build" -name '*.d' -exec cat {} + 2>/dev/null | tr ' \\' '\n\n' | grep '^/' | sort -u)
    fi
    used+=$'\n'$(grep -rhoE '/usr/lib/[^ ;"]+\.so[0-9.]*' "$build/build.ninja" "$build"/CMakeFiles/*/link.txt "$build"/*/CMakeFiles/*/link.txt 2>/dev/null | sort -u)
    local from_usr
    from_usr=$(comm -12 <(echo "$used" | sort -u) <(packed_files))
    if [[ -n $from_usr ]]; then
        echo "LEAK: the build used these files of packed packages from this machine's /usr:"
        echo "$from_usr" | head -40
        leaks=1
    fi
    echo "$(echo "$used" | grep -c "^$prefix") files of the build came from the packed prefix"
    ((leaks == 0)) && echo "no header or library of a packed package came from /usr: the pack is complete for this build"
    return $leaks
}
if ((dry_run && built)); then
    run_phase verify-pack 60 60 verify_pack
fi

# ---- tests ----
section "Tests: ctest -L cuda"
if ((built)) && [[ " $targets " == *" sr_tests "* ]]; then
    run_phase ctest-cuda 240 120 "$ctest" --test-dir "$build" -L cuda --output-on-failure --timeout 120
    {
        echo '```'
        grep -E 'tests passed|tests failed|Total Test time|Skipped|\*\*\*Failed|Failed  |Timeout|Exception' "$out/logs/ctest-cuda.log" | head -60
        echo '```'
    } >>"$report"
    grep -q 'SR_TEST_SKIPPED' "$out/logs/ctest-cuda.log" &&
        echo "Skip reasons (first 5): $(grep -o 'SR_TEST_SKIPPED: .*' "$out/logs/ctest-cuda.log" | sort | uniq -c | sort -rn | head -5 | tr '\n' ';')" >>"$report"
else
    skip_phase ctest-cuda "sr_tests was not built"
    echo "Not run: sr_tests was not built." >>"$report"
fi

# ---- benchmarks ----
section "Convolutions: bench/gpu_conv_bench"
if ((dry_run)); then
    skip_phase gpu_conv_bench "dry run, no GPU"
    echo "Skipped: dry run (no GPU)." >>"$report"
elif ((!has_gpu)); then
    skip_phase gpu_conv_bench "no GPU"
    echo "Skipped: nvidia-smi finds no GPU." >>"$report"
elif ((built)); then
    run_phase gpu_conv_bench 100 110 "$build/bench/gpu_conv_bench" --markdown
    sed -n '/^<!-- table -->/,$p' "$out/logs/gpu_conv_bench.log" | sed 1d >>"$report"
fi

section "Whole models against PyTorch: bench/pytorch_gpu_peer.py"
if ((dry_run)); then
    skip_phase pytorch-peer "dry run, no GPU"
    echo "Skipped: dry run (no GPU)." >>"$report"
    # Still prove the script runs: tiny sizes, PyTorch on the CPU, our binary not run.
    if [[ $torch_line != absent ]]; then
        run_phase pytorch-peer-smoke 120 10 env PYTHONUNBUFFERED=1 "$python" "$root/bench/pytorch_gpu_peer.py" --smoke --markdown &&
            echo "Smoke run of the script (tiny sizes, $torch_line, CPU; times mean nothing): passed." >>"$report"
    fi
elif ((!has_gpu)); then
    skip_phase pytorch-peer "no GPU"
    echo "Skipped: nvidia-smi finds no GPU." >>"$report"
elif ((built)); then
    run_phase pytorch-peer 150 10 env PYTHONUNBUFFERED=1 "$python" "$root/bench/pytorch_gpu_peer.py" \
        --ours "$build/bench/gpu_model_bench" --markdown
    sed -n '/^<!-- table -->/,$p' "$out/logs/pytorch-peer.log" | sed 1d >>"$report"
fi

# ---- phase table and the tails of failed phases ----
section "Phases"
{
    echo "| phase | result | seconds |"
    echo "| --- | --- | --- |"
    printf '%s\n' "${phase_rows[@]}"
    echo
    echo "Total: $(($(date +%s) - start)) s of a ${budget} s budget. Full logs: logs/*.log beside this report."
} >>"$report"
for row in "${phase_rows[@]}"; do
    name=$(echo "$row" | cut -d'|' -f2 | tr -d ' ')
    [[ $row == *FAILED* || $row == *"TIMED OUT"* ]] && log_tail "$name" 60
done
note "report: $report ($(($(date +%s) - start)) s)"
exit $failed
