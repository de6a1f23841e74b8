#!/usr/bin/env bash
# The benchmark suite on a GPU or TPU machine, as one command (issue 17):
#
#   bash scripts/accelerator_benchmark.sh [cuda12|cuda13|tpu|cpu] [OUT_DIR]
#
# Installs the project with the accelerator extra into a venv (VENV, default
# .venv-bench; the extra is guessed from nvidia-smi / /dev/accel* when not
# given), prints the devices, runs `scripts/benchmark.py --suite` in bfloat16
# and float32 into OUT_DIR/{bfloat16,float32}/suite.{json,md} and prints both
# tables (MFU against the device's bf16 dense peak; PEAK_TFLOPS=N overrides).
# SKIP_INSTALL=1 uses PYTHON (default python3) as it is; SUITE_ARGS adds flags,
# e.g. SUITE_ARGS='--suite_configs=mel_2bar.py:tiny --suite_batches=2'.
set -euo pipefail
cd "$(dirname "$0")/.."
extra=${1:-}
out=${2:-benchmark_suite/$(date -u +%Y%m%d-%H%M%S)}
if [[ -z $extra ]]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    cuda=$(nvidia-smi | sed -n 's/.*CUDA Version: *\([0-9]*\).*/\1/p' | head -n1)
    extra=$([[ ${cuda:-12} -ge 13 ]] && echo cuda13 || echo cuda12)
  elif compgen -G '/dev/accel*' >/dev/null || compgen -G '/dev/vfio/[0-9]*' >/dev/null; then
    extra=tpu
  else
    extra=cpu
  fi
fi
case $extra in cuda12|cuda13|tpu|cpu) ;; *) echo "unknown accelerator '$extra' (cuda12, cuda13, tpu, cpu)" >&2; exit 2;; esac
if [[ ${SKIP_INSTALL:-0} == 1 ]]; then
  py=${PYTHON:-python3}
else
  venv=${VENV:-.venv-bench}
  [[ -x $venv/bin/python ]] || python3 -m venv "$venv"
  spec=.; [[ $extra != cpu ]] && spec=".[$extra]"
  "$venv/bin/pip" install -q -e "$spec"
  py=$venv/bin/python
fi
mkdir -p "$out"
echo "accelerator extra: $extra; output: $out"
"$py" -c 'import jax; print("jax", jax.__version__, "devices:", jax.devices())'
for dtype in bfloat16 float32; do
  # shellcheck disable=SC2086  # SUITE_ARGS is a list of flags
  "$py" scripts/benchmark.py --suite --dtype="$dtype" --suite_out="$out/$dtype" \
    --peak_tflops="${PEAK_TFLOPS:-0}" ${SUITE_ARGS:-} 2>&1 | tee "$out/$dtype.log" \
    | grep --line-buffered '^suite:\|error' || true
  [[ -f $out/$dtype/suite.md ]] || { echo "suite ($dtype) failed, see $out/$dtype.log" >&2; exit 1; }
done
for dtype in bfloat16 float32; do
  echo; cat "$out/$dtype/suite.md"
done
echo; echo "wrote $out/{bfloat16,float32}/suite.{json,md}"
