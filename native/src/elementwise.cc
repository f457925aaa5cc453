// Elementwise kernels that wasm's stock build does not vectorise, or that fuse what tfjs runs as several kernels.
// Compiled with -fno-math-errno, so that the square root becomes a packed instruction (a negative input gives NaN
// either way, as in tfjs).
#include <cmath>
#include <vector>

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
    // NaN stays NaN and -0 becomes 0, as in tfjs (adding 0 does both). The addition runs on every element, outside
    // the select: conditional, it would compile to a branch (it may raise a floating-point flag), not a vector blend.
    for (size_t i = begin; i < end; i++) {
      const float v = x[i] + 0.0f;
      out[i] = v < 0.0f ? 0.0f : v;
    }
  });
}

void AddRelu(const float* a, const float* b, float* out, size_t n) {
  ForRanges(n, kElementGrain, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; i++) {
      // + 0 as in Relu (-0 + -0 is -0).
      const float s = a[i] + b[i] + 0.0f;
      out[i] = s < 0.0f ? 0.0f : s;
    }
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

double DotRange(const float* a, const float* b, size_t n) {
  // Eight running sums, which the compiler keeps in vector lanes (one sum would serialise the additions).
  float lanes[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (size_t j = 0; j < 8; j++) lanes[j] += a[i + j] * b[i + j];
  }
  double s = 0.0;
  for (float l : lanes) s += l;
  for (; i < n; i++) s += double(a[i]) * b[i];
  return s;
}

float Dot(const float* a, const float* b, size_t n) {
  const size_t parts = Parts(n, kElementGrain);
  std::vector<double> sums(parts, 0.0);
  ForParts(parts, [&](size_t p) {
    const size_t begin = n * p / parts, end = n * (p + 1) / parts;
    sums[p] = DotRange(a + begin, b + begin, end - begin);
  });
  double total = 0.0;
  for (double s : sums) total += s;
  return float(total);
}

}  // namespace affect
