// The addon's matrix products. oneDNN's brgemm matmul, where built in, ran the models' products 1.5-3x faster than
// Debian's OpenBLAS (Haswell or SkylakeX kernels) and shares oneDNN's OpenMP threads with the convolutions: OpenBLAS's
// own pool spins after each call and took a core from the next OpenMP kernel (a 0.03 ms max-pool gradient ran 0.5 ms
// after a dense layer's product). OpenBLAS runs the products oneDNN has no brgemm kernel for (CPUs without AVX-512) and
// every product of builds without oneDNN.
#include <cblas.h>

#include "kernels.h"

namespace affect {

void Sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
#ifdef AFFECT_DNNL
  if (alpha == 1.0f && (beta == 0.0f || beta == 1.0f) &&
      onednn::MatMul(transA, transB, M, N, K, A, lda, B, ldb, beta == 1.0f, C, ldc)) {
    return;
  }
#endif
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, M, N, K, alpha, A,
              lda, B, ldb, beta, C, ldc);
}

std::string GemmLibrary() {
#ifdef AFFECT_DNNL
  if (onednn::MatMulAvailable()) return onednn::Version() + " matmul";
#endif
  return "OpenBLAS";
}

}  // namespace affect
