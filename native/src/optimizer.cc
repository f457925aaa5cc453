// Fused optimizer updates (lib/train/optimizers.ts): one pass per weight that reads the weight, its gradient and its
// moments once and writes the weight and moments in place. The float32 arithmetic is the JS update's, op for op, so
// both paths agree to rounding (exactly where the compiler does not contract a * b + c into one instruction).
#include <cmath>

#include "kernels.h"
#include "parallel.h"

namespace affect {

namespace {

void Sgd(float* w, const float* g, float* velocity, size_t n, const SgdCoefficients& c) {
  if (velocity == nullptr) {
    for (size_t i = 0; i < n; i++) w[i] = w[i] - g[i] * c.lr;
    return;
  }
  if (c.nesterov) {
    for (size_t i = 0; i < n; i++) {
      const float v = velocity[i] * c.momentum - g[i] * c.lr;
      velocity[i] = v;
      w[i] = w[i] + (v * c.momentum - g[i] * c.lr);
    }
    return;
  }
  for (size_t i = 0; i < n; i++) {
    const float v = velocity[i] * c.momentum - g[i] * c.lr;
    velocity[i] = v;
    w[i] = w[i] + v;
  }
}

// Decay is a template flag, so that the loop without it (Adam, AdamW without weight decay) skips that step as the JS
// update does.
template <bool Decay>
void Adam(float* w, const float* g, float* m, float* v, size_t n, const AdamCoefficients& c) {
  for (size_t i = 0; i < n; i++) {
    float wi = w[i];
    if (Decay) wi = wi - wi * c.decay;
    const float gi = g[i];
    const float mi = m[i] + (gi - m[i]) * c.oneMinusBeta1;
    const float vi = v[i] + (gi * gi - v[i]) * c.oneMinusBeta2;
    m[i] = mi;
    v[i] = vi;
    w[i] = wi - (mi * c.alpha) / (std::sqrt(vi) + c.epsilon);
  }
}

}  // namespace

void SgdUpdate(float* w, const float* g, float* velocity, size_t n, const SgdCoefficients& c) {
  ForRanges(n, kElementGrain, [&](size_t b, size_t e) { Sgd(w + b, g + b, velocity ? velocity + b : nullptr, e - b, c); });
}

void AdamUpdate(float* w, const float* g, float* m, float* v, size_t n, const AdamCoefficients& c) {
  ForRanges(n, kElementGrain, [&](size_t b, size_t e) {
    if (c.decay != 0) {
      Adam<true>(w + b, g + b, m + b, v + b, e - b, c);
    } else {
      Adam<false>(w + b, g + b, m + b, v + b, e - b, c);
    }
  });
}

}  // namespace affect
