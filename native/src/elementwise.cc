// Elementwise kernels that wasm's stock build does not vectorise. Compiled with -fno-math-errno, so that the square
// root becomes a packed instruction (a negative input gives NaN either way, as in tfjs).
#include <cmath>

#include "kernels.h"

namespace affect {

void Sqrt(const float* x, float* out, size_t n) {
  for (size_t i = 0; i < n; i++) out[i] = std::sqrt(x[i]);
}

}  // namespace affect
