// Fused optimizer updates (lib/train/optimizers.ts): one pass per weight that reads the weight, its gradient and its
// moments once and writes the weight and moments in place. The float32 arithmetic is the JS update's, op for op, so
// both paths agree to rounding (exactly where the compiler does not contract a * b + c into one instruction).
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.h"
#include "parallel.h"

namespace affect {

namespace {

// L2 is a template flag, so that the loops without a penalty (every model without Keras' L2) skip its step as the JS
// update does. With it the gradient is g + w * l2Gradient, the gradient of l2 * sum w² at the weights before the step.
template <bool L2>
float Gradient(const float* g, const float* w, size_t i, float l2Gradient) {
  return L2 ? g[i] + w[i] * l2Gradient : g[i];
}

template <bool L2>
void Sgd(float* w, const float* g, float* velocity, size_t n, const SgdCoefficients& c) {
  if (velocity == nullptr) {
    for (size_t i = 0; i < n; i++) w[i] = w[i] - Gradient<L2>(g, w, i, c.l2Gradient) * c.lr;
    return;
  }
  if (c.nesterov) {
    for (size_t i = 0; i < n; i++) {
      const float gi = Gradient<L2>(g, w, i, c.l2Gradient);
      const float v = velocity[i] * c.momentum - gi * c.lr;
      velocity[i] = v;
      w[i] = w[i] + (v * c.momentum - gi * c.lr);
    }
    return;
  }
  for (size_t i = 0; i < n; i++) {
    const float v = velocity[i] * c.momentum - Gradient<L2>(g, w, i, c.l2Gradient) * c.lr;
    velocity[i] = v;
    w[i] = w[i] + v;
  }
}

// Decay is a template flag for the same reason (Adam, AdamW without weight decay). The L2 gradient is taken at the
// weights before AdamW's decay, as the tape computes it before the update.
template <bool Decay, bool L2>
void Adam(float* w, const float* g, float* m, float* v, size_t n, const AdamCoefficients& c) {
  for (size_t i = 0; i < n; i++) {
    const float gi = Gradient<L2>(g, w, i, c.l2Gradient);
    float wi = w[i];
    if (Decay) wi = wi - wi * c.decay;
    const float mi = m[i] + (gi - m[i]) * c.oneMinusBeta1;
    const float vi = v[i] + (gi * gi - v[i]) * c.oneMinusBeta2;
    m[i] = mi;
    v[i] = vi;
    w[i] = wi - (mi * c.alpha) / (std::sqrt(vi) + c.epsilon);
  }
}

// The update `run(begin, end)` over [0, n) split over the threads, in blocks small enough to stay in L1 between the
// sum of squares of w (with L2) and the update that rewrites it: the penalty's value costs no pass of its own.
template <typename Run>
double Blocks(const float* w, size_t n, bool l2, Run run) {
  constexpr size_t kBlock = 2048;
  const size_t parts = Parts(n, kElementGrain);
  std::vector<double> sums(parts, 0.0);
  ForParts(parts, [&](size_t p) {
    const size_t begin = n * p / parts, end = n * (p + 1) / parts;
    double sum = 0.0;  // a local: the threads' slots of `sums` share cache lines
    for (size_t b = begin; b < end; b += kBlock) {
      const size_t e = std::min(end, b + kBlock);
      if (l2) sum += DotRange(w + b, w + b, e - b);
      run(b, e);
    }
    sums[p] = sum;
  });
  double total = 0.0;
  for (double s : sums) total += s;
  return total;
}

}  // namespace

double SgdUpdate(float* w, const float* g, float* velocity, size_t n, const SgdCoefficients& c) {
  const bool l2 = c.l2Gradient != 0;
  return Blocks(w, n, l2, [&](size_t b, size_t e) {
    float* vb = velocity ? velocity + b : nullptr;
    if (l2) {
      Sgd<true>(w + b, g + b, vb, e - b, c);
    } else {
      Sgd<false>(w + b, g + b, vb, e - b, c);
    }
  });
}

double AdamUpdate(float* w, const float* g, float* m, float* v, size_t n, const AdamCoefficients& c) {
  const bool l2 = c.l2Gradient != 0;
  return Blocks(w, n, l2, [&](size_t b, size_t e) {
    const size_t len = e - b;
    if (c.decay != 0 && l2) {
      Adam<true, true>(w + b, g + b, m + b, v + b, len, c);
    } else if (c.decay != 0) {
      Adam<true, false>(w + b, g + b, m + b, v + b, len, c);
    } else if (l2) {
      Adam<false, true>(w + b, g + b, m + b, v + b, len, c);
    } else {
      Adam<false, false>(w + b, g + b, m + b, v + b, len, c);
    }
  });
}

}  // namespace affect
