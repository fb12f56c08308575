#!/bin/bash
# Copy each new resumable checkpoint of a running `rapidun train --out RUN --checkpoint-every N` to RUN/snaps/step<N>
# (the trainer keeps only the newest), for benchmarks/facts_checkpoints.py. Stops when RUN/manifest.json appears.
#   benchmarks/facts_snapshots.sh RUN &
set -u
RUN=$1
mkdir -p "$RUN/snaps"
while [ ! -f "$RUN/manifest.json" ]; do
  state="$RUN/checkpoint/state.json"
  if [ -f "$state" ]; then
    step=$(python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['step'])" "$state" 2>/dev/null)
    if [ -n "$step" ] && [ ! -d "$RUN/snaps/step$step" ]; then
      cp -r "$RUN/checkpoint" "$RUN/snaps/step$step.tmp" && mv "$RUN/snaps/step$step.tmp" "$RUN/snaps/step$step"
    fi
  fi
  sleep 5
done
