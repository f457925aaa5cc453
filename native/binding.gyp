{
  "variables": {
    # oneDNN's convolutions where a program using its 2.x API on OpenMP threads (Debian/Ubuntu: libdnnl-dev; or found
    # through pkg-config dnnl) compiles and links; elsewhere the addon runs im2col + OpenBLAS alone.
    "dnnl%": "<!(printf '#include <oneapi/dnnl/dnnl.hpp>\\n#if DNNL_VERSION_MAJOR != 2 || DNNL_CPU_THREADING_RUNTIME != DNNL_RUNTIME_OMP\\n#error\\n#endif\\nint main() { return dnnl_version()->major; }\\n' | ${CXX:-c++} -std=c++17 -x c++ - $(pkg-config --cflags --libs dnnl 2>/dev/null || echo -ldnnl) -o /dev/null 2>/dev/null && echo 1 || echo 0)",
    # OpenMP splits the addon's own kernels over its threads where the compiler has it; without it they run on one.
    "openmp%": "<!(printf 'int main() { return 0; }\\n' | ${CXX:-c++} -fopenmp -x c++ - -o /dev/null 2>/dev/null && echo 1 || echo 0)",
    # AVX2 for the addon's own loops (pooling, batch norm, the optimizers: 10-40% faster than SSE2 here) where
    # scripts/build-native.js found it on the building CPU; lib/kernels/native.ts does not load such a build on a CPU
    # without it.
    "avx2%": "<!(echo ${AFFECT_NATIVE_AVX2:-0})"
  },
  "targets": [
    {
      "target_name": "affect_native",
      "sources": ["src/addon.cc", "src/conv.cc", "src/gemm.cc", "src/channels.cc", "src/pool.cc", "src/matmul.cc", "src/elementwise.cc", "src/optimizer.cc"],
      # No contraction of a * b + c into one fused multiply-add (GCC's default where the CPU has one): the optimizer
      # updates round as tfjs' ops do, which the tests compare against.
      "cflags_cc": ["-O3", "-std=c++17", "-fno-exceptions", "-fno-math-errno", "-ffp-contract=off", "<!@(pkg-config --cflags openblas 2>/dev/null || true)"],
      "libraries": ["<!@(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)"],
      "conditions": [
        ["openmp==1", {"cflags_cc": ["-fopenmp"], "libraries": ["-fopenmp"]}],
        ["avx2==1", {"cflags_cc": ["-mavx2"], "defines": ["AFFECT_AVX2"]}],
        ["dnnl==1", {
          "sources": ["src/onednn.cc"],
          "defines": ["AFFECT_DNNL"],
          "cflags_cc": ["<!@(pkg-config --cflags dnnl 2>/dev/null || true)"],
          # libdnnl runs on GNU OpenMP, whose thread count onednn.cc sets.
          "libraries": ["<!@(pkg-config --libs dnnl 2>/dev/null || echo -ldnnl)", "-lgomp"]
        }]
      ]
    }
  ]
}
