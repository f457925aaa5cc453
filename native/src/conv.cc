// Convolutions as im2col + Sgemm (gemm.cc). With rows m = (b,oh,ow) and columns k = (kh,kw,ci), the filter is
// already the [K, Co] matrix, so
//   forward: Y = Col * W        filter gradient: dW = Col^T * dY        input gradient: dCol = dY * W^T, col2im.
// Col is built a few images at a time into one reused scratch buffer, so memory stays bounded.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels.h"
#include "parallel.h"

namespace affect {
namespace {

// Col chunks stay under this many floats (8 MiB): measured fastest here among 2-64 MiB (the first ResNet stage runs
// ~25% faster than with 64 MiB chunks); large enough for efficient GEMMs.
constexpr int64_t kChunkFloats = int64_t(2) << 20;

// One per thread: the addon may be loaded by several worker threads.
thread_local std::vector<float> scratch;

float* Scratch(int64_t n) {
  if (int64_t(scratch.size()) < n) scratch.resize(n);
  return scratch.data();
}

int64_t ImagesPerChunk(const ConvGeometry& g) {
  const int64_t perImage = g.pixels() * g.K();
  return std::max<int64_t>(1, std::min<int64_t>(g.B, kChunkFloats / std::max<int64_t>(1, perImage)));
}

void Im2Col(const ConvGeometry& g, const float* x, int64_t b0, int64_t b1, float* col) {
  const int64_t K = g.K();
  float* row = col;
  for (int64_t b = b0; b < b1; b++) {
    for (int64_t oh = 0; oh < g.OH; oh++) {
      for (int64_t ow = 0; ow < g.OW; ow++, row += K) {
        float* dst = row;
        const int64_t w0 = ow * g.sw - g.left;
        // With dilation 1 and the window inside the image, a filter row reads KW*Ci contiguous floats.
        const bool rowsContiguous = g.dw == 1 && w0 >= 0 && w0 + g.KW <= g.W;
        for (int64_t kh = 0; kh < g.KH; kh++) {
          const int64_t h = oh * g.sh + kh * g.dh - g.top;
          if (rowsContiguous && h >= 0 && h < g.H) {
            std::memcpy(dst, x + ((b * g.H + h) * g.W + w0) * g.Ci, g.KW * g.Ci * sizeof(float));
            dst += g.KW * g.Ci;
            continue;
          }
          for (int64_t kw = 0; kw < g.KW; kw++, dst += g.Ci) {
            const int64_t w = ow * g.sw + kw * g.dw - g.left;
            if (h < 0 || h >= g.H || w < 0 || w >= g.W) {
              std::memset(dst, 0, g.Ci * sizeof(float));
            } else {
              std::memcpy(dst, x + ((b * g.H + h) * g.W + w) * g.Ci, g.Ci * sizeof(float));
            }
          }
        }
      }
    }
  }
}

void Col2ImAdd(const ConvGeometry& g, const float* col, int64_t b0, int64_t b1, float* dx) {
  const int64_t K = g.K();
  const float* row = col;
  for (int64_t b = b0; b < b1; b++) {
    for (int64_t oh = 0; oh < g.OH; oh++) {
      for (int64_t ow = 0; ow < g.OW; ow++, row += K) {
        const float* src = row;
        const int64_t w0 = ow * g.sw - g.left;
        const bool rowsContiguous = g.dw == 1 && w0 >= 0 && w0 + g.KW <= g.W;
        for (int64_t kh = 0; kh < g.KH; kh++) {
          const int64_t h = oh * g.sh + kh * g.dh - g.top;
          if (rowsContiguous && h >= 0 && h < g.H) {
            float* dst = dx + ((b * g.H + h) * g.W + w0) * g.Ci;
            for (int64_t i = 0; i < g.KW * g.Ci; i++) dst[i] += src[i];
            src += g.KW * g.Ci;
            continue;
          }
          for (int64_t kw = 0; kw < g.KW; kw++, src += g.Ci) {
            const int64_t w = ow * g.sw + kw * g.dw - g.left;
            if (h < 0 || h >= g.H || w < 0 || w >= g.W) continue;
            float* dst = dx + ((b * g.H + h) * g.W + w) * g.Ci;
            for (int64_t c = 0; c < g.Ci; c++) dst[c] += src[c];
          }
        }
      }
    }
  }
}

// g(first, last) over the images [b0, b1) split among the addon's threads: each image's rows of the im2col matrix are
// its own, so the copies into them (im2col) and out of them (col2im) run in parallel.
template <typename F>
void ForImages(const ConvGeometry& g, int64_t b0, int64_t b1, F f) {
  const size_t perImage = size_t(std::max<int64_t>(1, g.pixels() * g.K()));
  ForRanges(size_t(b1 - b0), RowGrain(perImage),
            [&](size_t first, size_t last) { f(b0 + int64_t(first), b0 + int64_t(last)); });
}

// Calls f(b0, b1, M, col) for each chunk of images [b0, b1): col is their [M, K] im2col matrix.
template <typename F>
void ForEachColChunk(const ConvGeometry& g, const float* x, F f) {
  const int64_t step = ImagesPerChunk(g);
  for (int64_t b0 = 0; b0 < g.B; b0 += step) {
    const int64_t b1 = std::min(g.B, b0 + step);
    const int64_t M = (b1 - b0) * g.pixels();
    const float* col = x + b0 * g.H * g.W * g.Ci;
    if (!g.direct()) {
      float* c = Scratch(M * g.K());
      ForImages(g, b0, b1, [&](int64_t first, int64_t last) {
        Im2Col(g, x, first, last, c + (first - b0) * g.pixels() * g.K());
      });
      col = c;
    }
    f(b0, b1, M, col);
  }
}

// The input gradient of a stride-1 convolution over one input channel (a grayscale net's first layer, whose input
// gradient a trainable batch norm on the image needs). The im2col product's rows hold only KH*KW values, and col2im's
// per-row loops over them cost three times the product; instead the product is taken tap-major, dCol^T = W^T * dY^T
// ([KH*KW, pixels]), so that each tap adds a contiguous, shifted run of a dY row's values to a dx row.
void SingleChannelBackpropInput(const ConvGeometry& g, const float* dy, const float* w, float* dx) {
  const int64_t taps = g.KH * g.KW;
  const int64_t step = ImagesPerChunk(g);
  for (int64_t b0 = 0; b0 < g.B; b0 += step) {
    const int64_t b1 = std::min(g.B, b0 + step);
    const int64_t M = (b1 - b0) * g.pixels();
    float* dcol = Scratch(taps * M);
    Sgemm(false, true, taps, M, g.Co, 1.0f, w, g.Co, dy + b0 * g.pixels() * g.Co, g.Co, 0.0f, dcol, M);
    ForRanges(size_t((b1 - b0) * g.H), RowGrain(size_t(g.W * taps)),
              [&](size_t first, size_t last) {
                for (size_t row = first; row < last; row++) {
                  const int64_t b = int64_t(row) / g.H, h = int64_t(row) % g.H;
                  float* out = dx + ((b0 + b) * g.H + h) * g.W;
                  std::fill(out, out + g.W, 0.0f);
                  for (int64_t kh = 0; kh < g.KH; kh++) {
                    const int64_t oh = h + g.top - kh * g.dh;
                    if (oh < 0 || oh >= g.OH) continue;
                    for (int64_t kw = 0; kw < g.KW; kw++) {
                      // Input column x reads output column x + shift; both within their rows.
                      const int64_t shift = g.left - kw * g.dw;
                      const int64_t x0 = std::max<int64_t>(0, -shift), x1 = std::min(g.W, g.OW - shift);
                      const float* src = dcol + (kh * g.KW + kw) * M + (b * g.OH + oh) * g.OW + shift + x0;
                      for (int64_t x = x0; x < x1; x++) out[x] += src[x - x0];
                    }
                  }
                }
              });
  }
}

}  // namespace

namespace im2col {

void Conv2DForward(const ConvGeometry& g, const float* x, const float* w, const float* bias, float* y) {
  const int64_t K = g.K();
  ForEachColChunk(g, x, [&](int64_t b0, int64_t, int64_t M, const float* col) {
    float* out = y + b0 * g.pixels() * g.Co;
    Sgemm(false, false, M, g.Co, K, 1.0f, col, K, w, g.Co, 0.0f, out, g.Co);
    if (bias == nullptr) return;
    for (int64_t m = 0; m < M; m++) {
      float* r = out + m * g.Co;
      for (int64_t c = 0; c < g.Co; c++) r[c] += bias[c];
    }
  });
}

void Conv2DBackpropFilter(const ConvGeometry& g, const float* x, const float* dy, float* dw) {
  const int64_t K = g.K();
  ForEachColChunk(g, x, [&](int64_t b0, int64_t, int64_t M, const float* col) {
    Sgemm(true, false, K, g.Co, M, 1.0f, col, K, dy + b0 * g.pixels() * g.Co, g.Co, b0 == 0 ? 0.0f : 1.0f, dw, g.Co);
  });
}

void Conv2DBackpropInput(const ConvGeometry& g, const float* dy, const float* w, float* dx) {
  const int64_t K = g.K();
  if (g.Ci == 1 && g.sh == 1 && g.sw == 1 && !g.direct()) {
    SingleChannelBackpropInput(g, dy, w, dx);
    return;
  }
  if (g.direct()) {
    const int64_t M = g.B * g.pixels();
    Sgemm(false, true, M, K, g.Co, 1.0f, dy, g.Co, w, g.Co, 0.0f, dx, K);
    return;
  }
  std::memset(dx, 0, g.B * g.H * g.W * g.Ci * sizeof(float));
  const int64_t step = ImagesPerChunk(g);
  for (int64_t b0 = 0; b0 < g.B; b0 += step) {
    const int64_t b1 = std::min(g.B, b0 + step);
    const int64_t M = (b1 - b0) * g.pixels();
    float* dcol = Scratch(M * K);
    Sgemm(false, true, M, K, g.Co, 1.0f, dy + b0 * g.pixels() * g.Co, g.Co, w, g.Co, 0.0f, dcol, K);
    ForImages(g, b0, b1, [&](int64_t first, int64_t last) {
      Col2ImAdd(g, dcol + (first - b0) * g.pixels() * K, first, last, dx);
    });
  }
}

}  // namespace im2col
}  // namespace affect
