// Elementwise kernels that wasm's stock build does not vectorise, or that fuse what tfjs runs as several kernels.
// Compiled with -fno-math-errno, so that the square root becomes a packed instruction (a negative input gives NaN
// either way, as in tfjs).
#include <cmath>

#include "kernels.h"
#include "parallel.h"

namespace affect {

void Sqrt(const float* x, float* out, size_t n) {
  ForRanges(n, kElementGrain, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; i++) out[i] = std::sqrt(x[i]);
  });
}

void Relu(const float* x, float* out, size_t n) {
  ForRanges(n, kElementGrain, [&](size_t begin, size_t end) {
    // NaN stays NaN, as in tfjs.
    for (size_t i = begin; i < end; i++) out[i] = x[i] < 0.0f ? 0.0f : x[i];
  });
}

void ReluGrad(const float* dy, const float* x, float* dx, size_t n) {
  ForRanges(n, kElementGrain, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; i++) {
      // tfjs' step(x): 1 above 0, NaN for NaN, else 0; then dy times it, so that 0 * Inf gives NaN as there.
      const float step = x[i] > 0 ? 1.0f : (x[i] != x[i] ? x[i] : 0.0f);
      dx[i] = dy[i] * step;
    }
  });
}

}  // namespace affect
