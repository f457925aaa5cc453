// Batched matrix products as Sgemm (gemm.cc), one per batch, with the bias and ReLU of a fused dense layer applied
// to the product in place. Row-major throughout: a transposed operand is the same buffer read with BLAS's Trans flag.
#include "kernels.h"

namespace affect {

void MatMul(const MatMulGeometry& g, const float* a, const float* b, const float* bias, float* out) {
  const int64_t lda = g.transposeA ? g.M : g.K;
  const int64_t ldb = g.transposeB ? g.K : g.N;
  // With b shared and a untransposed, a's batches stack into one [batch * M, K] matrix: one larger GEMM.
  const bool stacked = g.batchB == 1 && !g.transposeA;
  const int64_t gemms = stacked ? 1 : g.batch();
  const int64_t rows = stacked ? g.batchA * g.M : g.M;
  // A 1x1 product is a dot product of two contiguous vectors (transposed or not): Dot reads them ~25x faster than
  // sgemm's general path (the models' L2 penalty, w . w over each weight).
  const bool dot = g.M == 1 && g.N == 1;
  for (int64_t i = 0; i < (dot ? g.batch() : gemms); i++) {
    const float* ai = a + (g.batchA == 1 ? 0 : i * g.M * g.K);
    const float* bi = b + (g.batchB == 1 ? 0 : i * g.K * g.N);
    if (dot) {
      out[i] = Dot(ai, bi, size_t(g.K));
    } else {
      Sgemm(g.transposeA, g.transposeB, rows, g.N, g.K, 1.0f, ai, lda, bi, ldb, 0.0f, out + i * g.M * g.N, g.N);
    }
  }
  if (bias == nullptr && !g.relu) return;
  const int64_t total = g.batch() * g.M;
  for (int64_t r = 0; r < total; r++) {
    float* row = out + r * g.N;
    if (bias != nullptr) {
      for (int64_t c = 0; c < g.N; c++) row[c] += bias[c];
    }
    if (g.relu) {
      for (int64_t c = 0; c < g.N; c++) {
        if (row[c] < 0) row[c] = 0;
      }
    }
  }
}

}  // namespace affect
