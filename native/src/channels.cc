// Channel-last kernels of batch-norm training and pooling: wasm computes the broadcasts with an index per element
// and reduces leading axes by transposing first; these are plain row loops the compiler vectorises.
#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels.h"

namespace affect {
namespace {

template <typename F>
void Rows(const float* full, const float* small, float* out, size_t rows, size_t cols, F f) {
  for (size_t r = 0; r < rows; r++) {
    const float* a = full + r * cols;
    float* o = out + r * cols;
    for (size_t c = 0; c < cols; c++) o[c] = f(a[c], small[c]);
  }
}

template <typename F>
void RowsEitherSide(bool smallFirst, const float* full, const float* small, float* out, size_t rows, size_t cols, F f) {
  if (smallFirst) {
    Rows(full, small, out, rows, cols, [f](float a, float s) { return f(s, a); });
  } else {
    Rows(full, small, out, rows, cols, f);
  }
}

}  // namespace

void BinaryRows(BinaryOp op, const float* full, const float* small, float* out, size_t rows, size_t cols, bool smallFirst) {
  switch (op) {
    case BinaryOp::kAdd: RowsEitherSide(smallFirst, full, small, out, rows, cols, [](float a, float b) { return a + b; }); break;
    case BinaryOp::kSub: RowsEitherSide(smallFirst, full, small, out, rows, cols, [](float a, float b) { return a - b; }); break;
    case BinaryOp::kMul: RowsEitherSide(smallFirst, full, small, out, rows, cols, [](float a, float b) { return a * b; }); break;
    case BinaryOp::kDiv: RowsEitherSide(smallFirst, full, small, out, rows, cols, [](float a, float b) { return a / b; }); break;
  }
}

void NormalizeRows(const float* x, const float* mean, const float* factor, const float* offset, float* out, size_t rows,
                   size_t cols) {
  for (size_t r = 0; r < rows; r++) {
    const float* xr = x + r * cols;
    float* o = out + r * cols;
    for (size_t c = 0; c < cols; c++) o[c] = (xr[c] - mean[c]) * factor[c] + offset[c];
  }
}

void SumRows(const float* x, float* out, size_t rows, size_t cols, double scale) {
  // Float partial sums over blocks of rows (vectorised), added into double totals: the error stays at the level
  // of the cpu backend's double accumulation even over millions of rows.
  constexpr size_t kBlock = 256;
  std::vector<double> total(cols, 0.0);
  std::vector<float> part(cols);
  for (size_t r0 = 0; r0 < rows; r0 += kBlock) {
    std::fill(part.begin(), part.end(), 0.0f);
    const size_t r1 = std::min(rows, r0 + kBlock);
    for (size_t r = r0; r < r1; r++) {
      const float* row = x + r * cols;
      for (size_t c = 0; c < cols; c++) part[c] += row[c];
    }
    for (size_t c = 0; c < cols; c++) total[c] += part[c];
  }
  for (size_t c = 0; c < cols; c++) out[c] = float(total[c] * scale);
}

void MaxPoolGrad(const PoolGeometry& g, const float* dy, const float* x, float* dx) {
  std::memset(dx, 0, g.B * g.H * g.W * g.C * sizeof(float));
  std::vector<float> best(g.C);
  std::vector<int64_t> at(g.C);
  for (int64_t b = 0; b < g.B; b++) {
    for (int64_t oh = 0; oh < g.OH; oh++) {
      const int64_t r0 = oh * g.sh - g.top;
      int64_t rMin = r0;
      while (rMin < 0) rMin += g.dh;
      const int64_t rMax = std::min(g.H, r0 + g.FH);
      for (int64_t ow = 0; ow < g.OW; ow++) {
        const int64_t c0 = ow * g.sw - g.left;
        int64_t cMin = c0;
        while (cMin < 0) cMin += g.dw;
        const int64_t cMax = std::min(g.W, c0 + g.FW);
        std::fill(best.begin(), best.end(), -std::numeric_limits<float>::infinity());
        std::fill(at.begin(), at.end(), -1);
        for (int64_t r = rMin; r < rMax; r += g.dh) {
          for (int64_t q = cMin; q < cMax; q += g.dw) {
            const int64_t base = ((b * g.H + r) * g.W + q) * g.C;
            for (int64_t c = 0; c < g.C; c++) {
              if (x[base + c] > best[c]) {
                best[c] = x[base + c];
                at[c] = base + c;
              }
            }
          }
        }
        const float* grad = dy + ((b * g.OH + oh) * g.OW + ow) * g.C;
        for (int64_t c = 0; c < g.C; c++) {
          if (at[c] >= 0) dx[at[c]] += grad[c];
        }
      }
    }
  }
}

}  // namespace affect
