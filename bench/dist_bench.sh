#!/bin/sh
# Data-parallel training throughput on the CPU (issue 15): sr-train steps/s on 1 process x T threads
# against P processes x T/P threads (mpirun), at equal total threads, and the scaling efficiency
# (P-process steps/s / 1-process steps/s). Each configuration trains twice, for S and 2S steps; the
# difference removes start-up, validation and file writing, leaving the time of S steps.
#
#   bench/dist_bench.sh BUILD_DIR IMAGE_FOLDER [profile=wdsr-b-8] [steps=40] [batch=16] [patch=24] [threads=2]
#   bench/dist_bench.sh build-wt ../shared/data/train/T91
#
# Prints one line per configuration; docs/benchmarks.md records the results with the machine load.
set -eu
build=$1 images=$2 profile=${3:-wdsr-b-8} steps=${4:-40} batch=${5:-16} patch=${6:-24} threads=${7:-2}
ranks=2
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 SR_CONV_BACKEND=${SR_CONV_BACKEND:-direct}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# seconds LAUNCHER THREADS STEPS: wall time of one run.
seconds() {
    start=$(date +%s.%N)
    $1 "$build/tools/sr-train" --profile "$profile" --scale 2 --dataset "$images" --epochs 1 --steps-per-epoch "$3" \
        --batch-size "$batch" --lr-patch-size "$patch" --validation-steps 1 --loader-threads 1 --threads "$2" \
        --seed 1 -q --outdir "$work/runs" >/dev/null 2>&1
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l
}

# steps_per_second LAUNCHER THREADS
steps_per_second() {
    short=$(seconds "$1" "$2" "$steps")
    long=$(seconds "$1" "$2" $((2 * steps)))
    echo "$steps / ($long - $short)" | bc -l
}

echo "sr-train $profile x2, batch $batch (global), LR patch $patch, $steps steps; $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
one=$(steps_per_second "" "$threads")
printf '1 process  x %d threads: %.3f steps/s\n' "$threads" "$one"
per_rank=$((threads / ranks))
[ "$per_rank" -ge 1 ] || per_rank=1
many=$(steps_per_second "mpirun --oversubscribe --bind-to none -np $ranks" "$per_rank")
printf '%d processes x %d thread(s): %.3f steps/s\n' "$ranks" "$per_rank" "$many"
printf 'scaling efficiency (%d processes / 1 process at %d threads in all): %.2f\n' "$ranks" "$threads" "$(echo "$many / $one" | bc -l)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
