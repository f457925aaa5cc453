// Max pooling of NHWC images, forward and gradient. Each window's pixels inside the image (its taps; padding is left
// out) are listed once, and the work runs along the channels four at a time with the maximum and its tap held in
// registers: with the few channels of a small net's first layers, per-window bookkeeping and a zeroing pass over dx
// cost more than the comparisons.
#include <algorithm>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels.h"
#include "parallel.h"

namespace affect {
namespace {

// GCC/Clang vector extensions: the compilers do not vectorise the float compare with an int32 select on their own.
// 16 bytes: the width every x86-64 (SSE2) and arm64 (NEON) build has.
typedef float Floats4 __attribute__((vector_size(16)));
typedef int32_t Ints4 __attribute__((vector_size(16)));

constexpr float kMinusInf = -std::numeric_limits<float>::infinity();

Floats4 Load(const float* p) {
  Floats4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

void Store(float* p, Floats4 v) { std::memcpy(p, &v, sizeof v); }

// a where mask, else b (mask lanes all ones or all zeros).
Floats4 Select(Ints4 mask, Floats4 a, Floats4 b) {
  Ints4 ai, bi;
  std::memcpy(&ai, &a, sizeof ai);
  std::memcpy(&bi, &b, sizeof bi);
  const Ints4 r = (ai & mask) | (bi & ~mask);
  Floats4 out;
  std::memcpy(&out, &r, sizeof out);
  return out;
}

// The offsets ((r * W + q) * C) of output pixel (oh, ow)'s taps within its image, in row-major order; returns how many.
int Taps(const PoolGeometry& g, int64_t oh, int64_t ow, int64_t* taps) {
  int64_t r0 = oh * g.sh - g.top, q0 = ow * g.sw - g.left;
  const int64_t r1 = std::min(g.H, r0 + g.FH), q1 = std::min(g.W, q0 + g.FW);
  while (r0 < 0) r0 += g.dh;
  while (q0 < 0) q0 += g.dw;
  int n = 0;
  for (int64_t r = r0; r < r1; r += g.dh) {
    for (int64_t q = q0; q < q1; q += g.dw) taps[n++] = (r * g.W + q) * g.C;
  }
  return n;
}

// The most taps a window can have: FH and FW are the effective (dilated) window.
int64_t MaxTaps(const PoolGeometry& g) { return ((g.FH - 1) / g.dh + 1) * ((g.FW - 1) / g.dw + 1); }

// y[c] = the largest x[tap + c]; -inf where none exceeds -inf (only padding, or NaN: a strict >, as tfjs's cpu kernel).
void WindowMax(const float* x, const int64_t* taps, int n, int64_t C, float* y) {
  int64_t c = 0;
  for (; c + 4 <= C; c += 4) {
    Floats4 best = {kMinusInf, kMinusInf, kMinusInf, kMinusInf};
    for (int t = 0; t < n; t++) {
      const Floats4 v = Load(x + taps[t] + c);
      best = Select(v > best, v, best);
    }
    Store(y + c, best);
  }
  for (; c < C; c++) {
    float best = kMinusInf;
    for (int t = 0; t < n; t++) best = x[taps[t] + c] > best ? x[taps[t] + c] : best;
    y[c] = best;
  }
}

// Each window's gradient dy[c] goes to the tap that holds its first maximum (a strict >: the first of equal maxima;
// none when no tap exceeds -inf). kAdd adds it into dx (zeroed first), which overlapping windows need: only the
// maximum's pixel changes, one scalar add a channel where writing every tap would take a store per tap. Otherwise
// every tap is written, the others with 0, so that non-overlapping windows that cover the image need no zeroing pass.
template <bool kAdd>
void WindowGrad(const float* x, const int64_t* taps, int n, int64_t C, const float* dy, float* dx) {
  int64_t c = 0;
  for (; c + 4 <= C; c += 4) {
    Floats4 best = {kMinusInf, kMinusInf, kMinusInf, kMinusInf};
    Ints4 at = {-1, -1, -1, -1};
    for (int t = 0; t < n; t++) {
      const Floats4 v = Load(x + taps[t] + c);
      const Ints4 more = v > best;
      best = Select(more, v, best);
      at = (Ints4{t, t, t, t} & more) | (at & ~more);
    }
    const Floats4 grad = Load(dy + c);
    if (kAdd) {
      int32_t lane[4];
      float share[4];
      std::memcpy(lane, &at, sizeof lane);
      std::memcpy(share, &grad, sizeof share);
      for (int l = 0; l < 4; l++) {
        if (lane[l] >= 0) dx[taps[lane[l]] + c + l] += share[l];
      }
      continue;
    }
    const Floats4 zero = {0, 0, 0, 0};
    for (int t = 0; t < n; t++) {
      Store(dx + taps[t] + c, Select(at == Ints4{t, t, t, t}, grad, zero));
    }
  }
  for (; c < C; c++) {
    float best = kMinusInf;
    int at = -1;
    for (int t = 0; t < n; t++) {
      if (x[taps[t] + c] > best) {
        best = x[taps[t] + c];
        at = t;
      }
    }
    if (kAdd) {
      if (at >= 0) dx[taps[at] + c] += dy[c];
      continue;
    }
    for (int t = 0; t < n; t++) dx[taps[t] + c] = t == at ? dy[c] : 0.0f;
  }
}

// f(b, oh, ow, at, taps, n) for every output pixel of the output rows [first, last) (row = b * OH + oh): its n taps
// are at + taps[i] within image b. Windows inside the image share one list of taps, moved along by `at`. rowStart(b, oh)
// runs before each output row.
template <typename F, typename R>
void ForWindows(const PoolGeometry& g, size_t first, size_t last, F f, R rowStart) {
  std::vector<int64_t> taps(size_t(MaxTaps(g))), inside(taps.size());
  int inner = 0;
  for (int64_t r = 0; r < g.FH; r += g.dh) {
    for (int64_t q = 0; q < g.FW; q += g.dw) inside[inner++] = (r * g.W + q) * g.C;
  }
  for (size_t row = first; row < last; row++) {
    const int64_t b = int64_t(row) / g.OH, oh = int64_t(row) % g.OH;
    rowStart(b, oh);
    const int64_t r0 = oh * g.sh - g.top;
    const bool rowsInside = r0 >= 0 && r0 + g.FH <= g.H;
    for (int64_t ow = 0; ow < g.OW; ow++) {
      const int64_t q0 = ow * g.sw - g.left;
      if (rowsInside && q0 >= 0 && q0 + g.FW <= g.W) {
        f(b, oh, ow, (r0 * g.W + q0) * g.C, inside.data(), inner);
      } else {
        f(b, oh, ow, 0, taps.data(), Taps(g, oh, ow, taps.data()));
      }
    }
  }
}

// Whether windows never share a pixel and together hold every pixel of the image: then each pixel's gradient is
// written exactly once.
bool TilesImage(const PoolGeometry& g) {
  return g.dh == 1 && g.dw == 1 && g.sh == g.FH && g.sw == g.FW && g.OH * g.sh - g.top >= g.H &&
         g.OW * g.sw - g.left >= g.W;
}

// Output rows per thread before a split pays.
size_t PoolRowGrain(const PoolGeometry& g) { return RowGrain(size_t(g.FH * g.W * g.C)); }

// For ForWindows' callers without work at row starts.
const auto kNoRowStart = [](int64_t, int64_t) {};

}  // namespace

void MaxPool(const PoolGeometry& g, const float* x, float* y) {
  const int64_t image = g.H * g.W * g.C;
  ForRanges(size_t(g.B * g.OH), PoolRowGrain(g), [&](size_t first, size_t last) {
    ForWindows(
        g, first, last,
        [&](int64_t b, int64_t oh, int64_t ow, int64_t at, const int64_t* taps, int n) {
          WindowMax(x + b * image + at, taps, n, g.C, y + ((b * g.OH + oh) * g.OW + ow) * g.C);
        },
        kNoRowStart);
  });
}

void MaxPoolGrad(const PoolGeometry& g, const float* dy, const float* x, float* dx) {
  const int64_t image = g.H * g.W * g.C, row = g.W * g.C;
  const auto grad = [&](auto add, size_t first, size_t last, auto rowStart) {
    ForWindows(
        g, first, last,
        [&](int64_t b, int64_t oh, int64_t ow, int64_t at, const int64_t* taps, int n) {
          const float* grad = dy + ((b * g.OH + oh) * g.OW + ow) * g.C;
          WindowGrad<decltype(add)::value>(x + b * image + at, taps, n, g.C, grad, dx + b * image + at);
        },
        rowStart);
  };
  if (TilesImage(g)) {
    // Output rows read and write disjoint input rows: threads take rows.
    ForRanges(size_t(g.B * g.OH), PoolRowGrain(g), [&](size_t first, size_t last) {
      grad(std::false_type{}, first, last, kNoRowStart);
    });
    return;
  }
  // Overlapping windows add into shared pixels and uncovered pixels keep 0: threads take whole images. Each input row
  // is zeroed just before the first window that reaches it adds into it, while it is in cache, rather than in a pass
  // of its own over dx.
  ForRanges(size_t(g.B), RowGrain(size_t(image)), [&](size_t first, size_t last) {
    for (size_t b = first; b < last; b++) {
      float* img = dx + b * image;
      int64_t zeroed = 0;
      const auto zeroRows = [&](int64_t rows) {
        rows = std::min(rows, g.H);
        if (rows <= zeroed) return;
        std::memset(img + zeroed * row, 0, size_t((rows - zeroed) * row) * sizeof(float));
        zeroed = rows;
      };
      grad(std::true_type{}, b * g.OH, (b + 1) * g.OH,
           [&](int64_t, int64_t oh) { zeroRows(oh * g.sh - g.top + g.FH); });
      zeroRows(g.H);
    }
  });
}

}  // namespace affect
