// Channel-last kernels of batch-norm training and per-channel arithmetic: wasm computes the broadcasts with an index
// per element and reduces leading axes by transposing first; these are plain row loops the compiler vectorises.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels.h"
#include "parallel.h"

namespace affect {
namespace {


// f(x[r, c], small[c]) into out, split by rows (or, for a single row, as when both operands have one shape, by columns;
// a single column is a scalar operand).
template <typename F>
void Rows(const float* full, const float* small, float* out, size_t rows, size_t cols, F f) {
  if (rows == 1) {
    ForRanges(cols, kElementGrain, [&](size_t begin, size_t end) {
      for (size_t c = begin; c < end; c++) out[c] = f(full[c], small[c]);
    });
    return;
  }
  if (cols == 1) {
    const float s = small[0];
    ForRanges(rows, kElementGrain, [&](size_t begin, size_t end) {
      for (size_t r = begin; r < end; r++) out[r] = f(full[r], s);
    });
    return;
  }
  ForRanges(rows, RowGrain(cols), [&](size_t begin, size_t end) {
    for (size_t r = begin; r < end; r++) {
      const float* a = full + r * cols;
      float* o = out + r * cols;
      for (size_t c = 0; c < cols; c++) o[c] = f(a[c], small[c]);
    }
  });
}

template <typename F>
void RowsEitherSide(bool smallFirst, const float* full, const float* small, float* out, size_t rows, size_t cols, F f) {
  if (smallFirst) {
    Rows(full, small, out, rows, cols, [f](float a, float s) { return f(s, a); });
  } else {
    Rows(full, small, out, rows, cols, f);
  }
}

// Two column sums over `rows` rows: `add(r, a, b)` adds row r's terms into float partials over blocks of rows
// (vectorised), which go into double totals a and b, as in SumRows. Threads take whole blocks and keep their own totals,
// added in thread order.
template <typename F>
void ColumnSums(size_t rows, size_t cols, std::vector<double>& a, std::vector<double>& b, F add) {
  constexpr size_t kBlock = 256;
  const size_t blocks = (rows + kBlock - 1) / kBlock;
  // No rows: no parts, and zero totals.
  const size_t parts = std::min(blocks, Parts(rows * cols, kElementGrain));
  std::vector<std::vector<double>> ta(parts, std::vector<double>(cols, 0.0)), tb(parts, std::vector<double>(cols, 0.0));
  ForParts(parts, [&](size_t i) {
    std::vector<float> pa(cols), pb(cols);
    for (size_t k = blocks * i / parts; k < blocks * (i + 1) / parts; k++) {
      std::fill(pa.begin(), pa.end(), 0.0f);
      std::fill(pb.begin(), pb.end(), 0.0f);
      const size_t r1 = std::min(rows, (k + 1) * kBlock);
      for (size_t r = k * kBlock; r < r1; r++) add(r, pa.data(), pb.data());
      for (size_t c = 0; c < cols; c++) {
        ta[i][c] += pa[c];
        tb[i][c] += pb[c];
      }
    }
  });
  a.assign(cols, 0.0);
  b.assign(cols, 0.0);
  for (size_t i = 0; i < parts; i++) {
    for (size_t c = 0; c < cols; c++) {
      a[c] += ta[i][c];
      b[c] += tb[i][c];
    }
  }
}

// Narrow rows (an image's one channel, a first layer's eight) are taken m at a time as one row of m * cols values, so
// that the loops over a row vectorise and their overhead is paid once per m rows (batch norm over a 1-channel image took
// 0.3 ms for 74k rows): per-column vectors are repeated m times (Repeat) and the m partial sums of each column added
// up at the end (Fold). m divides rows.
struct Widened {
  size_t rows, cols;
};

Widened Widen(size_t rows, size_t cols) {
  size_t m = std::max<size_t>(1, 64 / std::max<size_t>(cols, 1));
  while (rows % m != 0) m--;
  return {rows / m, cols * m};
}

std::vector<float> Repeat(const float* v, size_t cols, size_t width) {
  std::vector<float> out(width);
  for (size_t i = 0; i < width; i++) out[i] = v[i % cols];
  return out;
}

void Fold(std::vector<double>& sums, size_t cols) {
  for (size_t i = cols; i < sums.size(); i++) sums[i % cols] += sums[i];
  sums.resize(cols);
}

// (x - mean) * factor + offset, then max(., 0) when kRelu (NaN kept, as tfjs' relu).
template <bool kRelu>
float Normalized(float x, float mean, float factor, float offset) {
  const float y = (x - mean) * factor + offset;
  return kRelu && y < 0.0f ? 0.0f : y;
}

template <bool kRelu>
void NormalizeRowsAs(const float* x, const float* mean, const float* factor, const float* offset, float* out,
                     size_t rows, size_t cols) {
  const Widened w = Widen(rows, cols);
  const std::vector<float> m = Repeat(mean, cols, w.cols), f = Repeat(factor, cols, w.cols),
                           o = Repeat(offset, cols, w.cols);
  ForRanges(w.rows, RowGrain(w.cols), [&](size_t begin, size_t end) {
    for (size_t r = begin; r < end; r++) {
      const float* xr = x + r * w.cols;
      float* row = out + r * w.cols;
      for (size_t c = 0; c < w.cols; c++) row[c] = Normalized<kRelu>(xr[c], m[c], f[c], o[c]);
    }
  });
}

// The forward pass's factor scale / sqrt(variance + epsilon), computed the same way wherever it is needed again.
float NormFactor(float scale, float variance, float epsilon) {
  return float(scale / std::sqrt(double(variance) + epsilon));
}

// dy * step(y) (tfjs' step: 1 above 0, NaN for NaN, else 0) when kRelu, else dy. Two plain selects, not nested, so
// that the loops calling it vectorise.
template <bool kRelu>
float ReluGradOf(float dy, float y) {
  if (!kRelu) return dy;
  const float step = y > 0.0f ? 1.0f : 0.0f;
  const float stepOrNaN = y != y ? y : step;
  return dy * stepOrNaN;
}

template <bool kRelu>
void BatchNormTrainingGradAs(const float* dy, const float* x, const float* scale, const float* mean,
                             const float* variance, const float* offset, float epsilon, float* dx, float* dscale,
                             float* doffset, size_t rows, size_t cols) {
  const Widened w = Widen(rows, cols);
  const std::vector<float> means = Repeat(mean, cols, w.cols);
  // With the ReLU: the forward's factor and offset, to recompute y (a no-op vector of zeros otherwise).
  std::vector<float> factor(cols, 0.0f), zeros;
  if (kRelu)
    for (size_t c = 0; c < cols; c++) factor[c] = NormFactor(scale[c], variance[c], epsilon);
  else
    zeros.assign(cols, 0.0f);
  const std::vector<float> fw = Repeat(factor.data(), cols, w.cols),
                           ow = Repeat(kRelu ? offset : zeros.data(), cols, w.cols);
  std::vector<double> sdy, sdyx;
  ColumnSums(w.rows, w.cols, sdy, sdyx, [&](size_t r, float* a, float* b) {
    const float* g = dy + r * w.cols;
    const float* xr = x + r * w.cols;
    for (size_t c = 0; c < w.cols; c++) {
      const float gc = ReluGradOf<kRelu>(g[c], Normalized<false>(xr[c], means[c], fw[c], ow[c]));
      a[c] += gc;
      b[c] += gc * (xr[c] - means[c]);
    }
  });
  Fold(sdy, cols);
  Fold(sdyx, cols);
  // dx = scale * rstd * (g - mean(g) - xhat * mean(g * xhat)) = k * g + q * x + p per column, g the gradient at y.
  std::vector<float> k(cols), q(cols), p(cols);
  const double n = double(rows);
  for (size_t c = 0; c < cols; c++) {
    const double rstd = 1.0 / std::sqrt(double(variance[c]) + epsilon);
    const double a = scale[c] * rstd;
    const double b = -a * rstd * rstd * sdyx[c] / n;
    dscale[c] = float(sdyx[c] * rstd);
    doffset[c] = float(sdy[c]);
    k[c] = float(a);
    q[c] = float(b);
    p[c] = float(-a * sdy[c] / n - b * mean[c]);
  }
  const std::vector<float> kw = Repeat(k.data(), cols, w.cols), qw = Repeat(q.data(), cols, w.cols),
                           pw = Repeat(p.data(), cols, w.cols);
  ForRanges(w.rows, RowGrain(w.cols), [&](size_t begin, size_t end) {
    for (size_t r = begin; r < end; r++) {
      const float* g = dy + r * w.cols;
      const float* xr = x + r * w.cols;
      float* o = dx + r * w.cols;
      for (size_t c = 0; c < w.cols; c++) {
        const float gc = ReluGradOf<kRelu>(g[c], Normalized<false>(xr[c], means[c], fw[c], ow[c]));
        o[c] = kw[c] * gc + qw[c] * xr[c] + pw[c];
      }
    }
  });
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
  NormalizeRowsAs<false>(x, mean, factor, offset, out, rows, cols);
}

void SumRows(const float* x, float* out, size_t rows, size_t cols, double scale) {
  // Float partial sums over blocks of rows (vectorised), added into double totals: the error stays at the level
  // of the cpu backend's double accumulation even over millions of rows.
  const Widened w = Widen(rows, cols);
  std::vector<double> total, unused;
  ColumnSums(w.rows, w.cols, total, unused, [&](size_t r, float* a, float*) {
    const float* row = x + r * w.cols;
    for (size_t c = 0; c < w.cols; c++) a[c] += row[c];
  });
  Fold(total, cols);
  for (size_t c = 0; c < cols; c++) out[c] = float(total[c] * scale);
}

void BatchNormTraining(const float* x, const float* scale, const float* offset, float epsilon, float* y, float* mean,
                       float* variance, size_t rows, size_t cols, bool relu) {
  // One pass for both moments: sums of x - x[0] and its square, shifted by the first row so that a large mean does
  // not cancel the variance.
  const Widened w = Widen(rows, cols);
  const std::vector<float> first = Repeat(x, cols, w.cols);
  std::vector<double> s1, s2;
  ColumnSums(w.rows, w.cols, s1, s2, [&](size_t r, float* a, float* b) {
    const float* xr = x + r * w.cols;
    for (size_t c = 0; c < w.cols; c++) {
      const float d = xr[c] - first[c];
      a[c] += d;
      b[c] += d * d;
    }
  });
  Fold(s1, cols);
  Fold(s2, cols);
  std::vector<float> factor(cols);
  for (size_t c = 0; c < cols; c++) {
    const double m = s1[c] / double(rows);
    mean[c] = float(x[c] + m);
    // max(v, 0) keeps a NaN (from a NaN in x), as tf.moments would give it.
    variance[c] = float(std::max(s2[c] / double(rows) - m * m, 0.0));
    factor[c] = NormFactor(scale[c], variance[c], epsilon);
  }
  if (relu)
    NormalizeRowsAs<true>(x, mean, factor.data(), offset, y, rows, cols);
  else
    NormalizeRowsAs<false>(x, mean, factor.data(), offset, y, rows, cols);
}

void BatchNormTrainingGrad(const float* dy, const float* x, const float* scale, const float* mean, const float* variance,
                           const float* reluOffset, float epsilon, float* dx, float* dscale, float* doffset,
                           size_t rows, size_t cols) {
  if (reluOffset)
    BatchNormTrainingGradAs<true>(dy, x, scale, mean, variance, reluOffset, epsilon, dx, dscale, doffset, rows, cols);
  else
    BatchNormTrainingGradAs<false>(dy, x, scale, mean, variance, nullptr, epsilon, dx, dscale, doffset, rows, cols);
}

}  // namespace affect
