// The addon's matrix products. oneDNN's sgemm, where built in, ran the models' products 1.5-3x faster than Debian's
// OpenBLAS (whose kernels stop at AVX2) and shares oneDNN's OpenMP threads with the convolutions: OpenBLAS's own
// pool spins after each call and took a core from the next OpenMP kernel (a 0.03 ms max-pool gradient ran 0.5 ms
// after a dense layer's product).
#include <vector>

#include "kernels.h"

#ifdef AFFECT_DNNL
#include <oneapi/dnnl/dnnl.h>
#else
#include <cblas.h>
#endif

namespace affect {

#ifdef AFFECT_DNNL

void Sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  onednn::ApplyThreads();
  // A * B^T with few rows and many columns (a dense layer's input gradient) ran 2.5-3x slower than the same product
  // turned round: C^T = B * A^T, then transposed into C.
  if (!transA && transB && M < N) {
    thread_local std::vector<float> t;
    t.resize(N * M);
    dnnl_sgemm('N', 'T', N, M, K, 1.0f, B, ldb, A, lda, 0.0f, t.data(), M);
    for (int64_t m = 0; m < M; m++) {
      float* c = C + m * ldc;
      for (int64_t n = 0; n < N; n++) c[n] = alpha * t[n * M + m] + (beta == 0.0f ? 0.0f : beta * c[n]);
    }
    return;
  }
  dnnl_sgemm(transA ? 'T' : 'N', transB ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

std::string GemmLibrary() { return onednn::Version() + " sgemm"; }

#else

void Sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, M, N, K, alpha, A,
              lda, B, ldb, beta, C, ldc);
}

std::string GemmLibrary() { return "OpenBLAS"; }

#endif

}  // namespace affect
