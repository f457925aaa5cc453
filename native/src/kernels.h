// Compute kernels of the native addon, free of N-API: float32 arrays in tfjs's layouts (x [B,H,W,C] NHWC, filter
// [KH,KW,Ci,Co]); every length has been checked against the geometry by the caller (addon.cc).
#pragma once

#include <cstddef>
#include <cstdint>

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

// y = conv(x, w) (+ bias per output channel when bias is not null).
void Conv2DForward(const ConvGeometry& g, const float* x, const float* w, const float* bias, float* y);
// dw = the filter gradient for output gradient dy.
void Conv2DBackpropFilter(const ConvGeometry& g, const float* x, const float* dy, float* dw);
// dx = the input gradient for output gradient dy.
void Conv2DBackpropInput(const ConvGeometry& g, const float* dy, const float* w, float* dx);

// dx = each window's gradient added to its first maximum in x (padding never wins), as tfjs's cpu kernel does.
void MaxPoolGrad(const PoolGeometry& g, const float* dy, const float* x, float* dx);

enum class BinaryOp { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3 };
// out = full (op) small, `small` ([cols]) repeated along full's rows; small (op) full when smallFirst.
void BinaryRows(BinaryOp op, const float* full, const float* small, float* out, size_t rows, size_t cols, bool smallFirst);
// out[r, c] = (x[r, c] - mean[c]) * factor[c] + offset[c]: batch norm with factor = scale / sqrt(variance + epsilon).
void NormalizeRows(const float* x, const float* mean, const float* factor, const float* offset, float* out, size_t rows,
                   size_t cols);
// out[c] = scale * sum over r of x[r, c].
void SumRows(const float* x, float* out, size_t rows, size_t cols, double scale);

}  // namespace affect
