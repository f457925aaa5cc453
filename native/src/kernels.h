// Compute kernels of the native addon, free of N-API: float32 arrays in tfjs's layouts (x [B,H,W,C] NHWC, filter
// [KH,KW,Ci,Co], matrices row-major); every length has been checked against the geometry by the caller (addon.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace affect {

// An NHWC convolution's sizes; `top`/`left` are the leading padding (the trailing padding follows from OH, OW).
struct ConvGeometry {
  int64_t B, H, W, Ci, OH, OW, Co, KH, KW, sh, sw, dh, dw, top, left;
  int64_t K() const { return KH * KW * Ci; }
  int64_t pixels() const { return OH * OW; }
  // A 1x1, stride-1, unpadded convolution reads x itself as its im2col matrix.
  bool direct() const {
    return KH == 1 && KW == 1 && sh == 1 && sw == 1 && top == 0 && left == 0 && OH == H && OW == W;
  }
};

// A pooling window's sizes; FH/FW are the effective window (dilation included).
struct PoolGeometry {
  int64_t B, H, W, C, OH, OW, FH, FW, sh, sw, dh, dw, top, left;
};

// Row-major C = alpha * op(A) * op(B) + beta * C, op transposing where asked (gemm.cc): oneDNN's matmul where the
// addon is built with oneDNN and it has a brgemm kernel for the call (AVX-512 CPUs), else OpenBLAS's sgemm.
void Sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
// What runs Sgemm: "oneDNN 2.6.3 matmul" or "OpenBLAS".
std::string GemmLibrary();

// Convolutions as im2col + Sgemm (conv.cc).
namespace im2col {
// y = conv(x, w) (+ bias per output channel when bias is not null).
void Conv2DForward(const ConvGeometry& g, const float* x, const float* w, const float* bias, float* y);
// dw = the filter gradient for output gradient dy.
void Conv2DBackpropFilter(const ConvGeometry& g, const float* x, const float* dy, float* dw);
// dx = the input gradient for output gradient dy.
void Conv2DBackpropInput(const ConvGeometry& g, const float* dy, const float* w, float* dx);
}  // namespace im2col

#ifdef AFFECT_DNNL
// The same convolutions on oneDNN (onednn.cc, built in where libdnnl-dev is installed). Each returns false, having
// written nothing, where oneDNN has no primitive for g or is known to be slower on it; the caller then runs im2col's.
namespace onednn {
// The loaded library's version, e.g. "oneDNN 2.6.3".
std::string Version();
// oneDNN's OpenMP threads for every later call, from any thread.
void SetThreads(int n);
// y = conv(x, w) (+ bias); false, having written nothing, where oneDNN declines g. A filterId > 0 says w never changes
// under that id (its reordered layout is kept until ForgetFilter); 0 says nothing.
bool Conv2DForward(const ConvGeometry& g, const float* x, const float* w, int64_t filterId, const float* bias, float* y);
// Drops the calling thread's kept copies of filter `id` (its tensor is gone).
void ForgetFilter(int64_t id);
bool Conv2DBackpropFilter(const ConvGeometry& g, const float* x, const float* dy, float* dw);
bool Conv2DBackpropInput(const ConvGeometry& g, const float* dy, const float* w, float* dx);
// C = op(A) * op(B), + C when accumulating, on oneDNN's brgemm matmul; false, having written nothing, without one.
bool MatMul(bool transA, bool transB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
            int64_t ldb, bool accumulate, float* C, int64_t ldc);
// Whether MatMul has brgemm kernels on this CPU (AVX-512).
bool MatMulAvailable();
}  // namespace onednn
#endif

// y = each window's maximum in x per channel (padding never wins; -inf for a window of padding or NaN only).
void MaxPool(const PoolGeometry& g, const float* x, float* y);
// dx = each window's gradient added to its first maximum in x (padding never wins), as tfjs's cpu kernel does.
void MaxPoolGrad(const PoolGeometry& g, const float* dy, const float* x, float* dx);

// out[i] = op(a[i]) * op(b[i]) for i < batch(), op transposing when asked: a is [batchA, M, K] ([batchA, K, M]
// transposed), b [batchB, K, N] ([batchB, N, K]), out [batch(), M, N]; a batch size of 1 is shared by every product.
struct MatMulGeometry {
  int64_t batchA, batchB, M, K, N;
  bool transposeA, transposeB, relu;
  int64_t batch() const { return batchA > batchB ? batchA : batchB; }
};

// out = a * b as above, then + bias (per column, when not null), then max(0, .) when g.relu.
void MatMul(const MatMulGeometry& g, const float* a, const float* b, const float* bias, float* out);

enum class BinaryOp { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3 };
// out = full (op) small, `small` ([cols]) repeated along full's rows; small (op) full when smallFirst.
void BinaryRows(BinaryOp op, const float* full, const float* small, float* out, size_t rows, size_t cols, bool smallFirst);
// out[r, c] = (x[r, c] - mean[c]) * factor[c] + offset[c]: batch norm with factor = scale / sqrt(variance + epsilon).
void NormalizeRows(const float* x, const float* mean, const float* factor, const float* offset, float* out, size_t rows,
                   size_t cols);
// Batch norm in training over x's rows ([rows, cols], channels last): mean and (biased) variance per column, then
// y = (x - mean) * scale / sqrt(variance + epsilon) + offset, and max(y, 0) (NaN kept) when relu.
void BatchNormTraining(const float* x, const float* scale, const float* offset, float epsilon, float* y, float* mean,
                       float* variance, size_t rows, size_t cols, bool relu);
// BatchNormTraining's gradients for output gradient dy, the batch statistics being functions of x:
// dx, dscale = sum of dy * xhat, doffset = sum of dy. With `reluOffset` (the forward's offset, when it ran with relu),
// dy first goes through the ReLU's gradient, dy * step(y), y recomputed from x exactly as the forward pass computed it.
void BatchNormTrainingGrad(const float* dy, const float* x, const float* scale, const float* mean, const float* variance,
                           const float* reluOffset, float epsilon, float* dx, float* dscale, float* doffset,
                           size_t rows, size_t cols);
// out[c] = scale * sum over r of x[r, c].
void SumRows(const float* x, float* out, size_t rows, size_t cols, double scale);

// The dot product of a and b (n floats each), summed in float lanes and then in double.
float Dot(const float* a, const float* b, size_t n);
// Dot's sum over n floats on the calling thread.
double DotRange(const float* a, const float* b, size_t n);

// out[i] = sqrt(x[i]).
void Sqrt(const float* x, float* out, size_t n);
// out[i] = max(x[i], 0), NaN kept, -0 as 0 (tfjs' relu); x and out may be one array.
void Relu(const float* x, float* out, size_t n);
// out[i] = max(a[i] + b[i], 0) as Relu takes it: a residual join and the ReLU after it in one pass.
void AddRelu(const float* a, const float* b, float* out, size_t n);
// dx[i] = dy[i] * step(x[i]): ReLU's gradient in one pass, with tfjs' step (1 above 0, NaN for NaN, else 0).
void ReluGrad(const float* dy, const float* x, float* dx, size_t n);

// Keras SGD in place: v = momentum * v - lr * g; w += v (Nesterov: w += momentum * v - lr * g); w -= lr * g when
// `velocity` is null (no momentum). With l2Gradient (2 * l2 of Keras' L2 penalty l2 * sum w²; 0 without one) g is
// g + w * l2Gradient, the weights taken before the step, and the result is sum w² before the step (0 without).
struct SgdCoefficients {
  float lr, momentum, l2Gradient;
  bool nesterov;
};
double SgdUpdate(float* w, const float* g, float* velocity, size_t n, const SgdCoefficients& c);

// Keras Adam in place: w -= decay * w (AdamW; skipped when decay is 0); m += (g - m) * (1 - beta1);
// v += (g * g - v) * (1 - beta2); w -= alpha * m / (sqrt(v) + epsilon), alpha holding the bias corrections; g is
// g + w * l2Gradient as in SgdCoefficients, w before the decay; the result is SgdUpdate's.
struct AdamCoefficients {
  float decay, oneMinusBeta1, oneMinusBeta2, alpha, epsilon, l2Gradient;
};
double AdamUpdate(float* w, const float* g, float* m, float* v, size_t n, const AdamCoefficients& c);

}  // namespace affect
