#!/usr/bin/env bash
# C++ compiler wrapper for the mmcv ops build in tools/bootstrap.sh (set as CXX).
#
# Every mmcv op source starts with `#include "pytorch_cpp_helper.hpp"`, which pulls
# in torch's headers: parsing them is most of each file's compile time. On the
# first compile, this wrapper precompiles that header once (GCC's PCH, written as
# HEADER.gch beside it) with exactly the flags of that compile, so GCC picks it up
# for every source compiled with the same flags; sources whose flags differ just
# parse the header as usual (-Winvalid-pch in the build log says so). Anything
# that is not a compile (the link step) passes straight through.
#
#   MMSELFDIS_PCH_HEADER  absolute path of the header to precompile (required)
#   MMSELFDIS_REAL_CXX    the compiler to run (default: c++)
set -uo pipefail
REAL="${MMSELFDIS_REAL_CXX:-c++}"
HDR="${MMSELFDIS_PCH_HEADER:?MMSELFDIS_PCH_HEADER must name the header to precompile}"

is_compile=0
for a in "$@"; do [[ "$a" == "-c" ]] && is_compile=1; done
if (( is_compile )) && [[ ! -f "$HDR.gch" && ! -f "$HDR.gch.failed" ]]; then
  exec 9>"$HDR.lock"
  flock 9
  if [[ ! -f "$HDR.gch" && ! -f "$HDR.gch.failed" ]]; then
    pch_args=()
    skip=0
    for a in "$@"; do
      if (( skip )); then skip=0; continue; fi
      case "$a" in
        -o|-MF) skip=1 ;;               # the object, the dep file
        -c|-MMD|-MD) ;;
        *.cpp|*.cc|*.cxx|*.c|*.cu) ;;   # the source
        *) pch_args+=("$a") ;;
      esac
    done
    start=$SECONDS
    if "$REAL" "${pch_args[@]}" -x c++-header "$HDR" -o "$HDR.gch.tmp.$$"; then
      mv "$HDR.gch.tmp.$$" "$HDR.gch"
      echo "[pch_cxx] precompiled $(basename "$HDR") in $(( SECONDS - start )) s" >&2
    else
      rm -f "$HDR.gch.tmp.$$"
      touch "$HDR.gch.failed"
      echo "[pch_cxx] could not precompile $(basename "$HDR"); compiling without it" >&2
    fi
  fi
  exec 9>&-
fi
exec "$REAL" "$@"
