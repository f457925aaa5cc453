// Native convolution kernels for the wasm backend (issue 6): im2col + OpenBLAS sgemm, working directly on the
// Float32Array views of wasm memory that the JS side passes in (no copies in or out).
// Layouts are tfjs's: x [B,H,W,Ci] (NHWC), filter [KH,KW,Ci,Co], y [B,OH,OW,Co]. With rows m = (b,oh,ow) and
// columns k = (kh,kw,ci), the filter is already the [K, Co] matrix, so
//   forward: Y = Col * W        filter gradient: dW = Col^T * dY        input gradient: dCol = dY * W^T, col2im.
// Col is built a few images at a time into one reused scratch buffer, so memory stays bounded.
#include <node_api.h>
#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

extern "C" char* openblas_get_config(void);
extern "C" int openblas_get_num_threads(void);
extern "C" void openblas_set_num_threads(int);

namespace {

struct Geometry {
  int64_t B, H, W, Ci, OH, OW, Co, KH, KW, sh, sw, dh, dw, top, left;
  int64_t K() const { return KH * KW * Ci; }
  int64_t pixels() const { return OH * OW; }
  // A 1x1, stride-1, unpadded convolution reads x itself as Col.
  bool direct() const {
    return KH == 1 && KW == 1 && sh == 1 && sw == 1 && top == 0 && left == 0 && OH == H && OW == W;
  }
};

constexpr int kGeometryLength = 15;
// Col chunks stay under this many floats (8 MiB): measured fastest here among 2-64 MiB (the first ResNet stage runs
// ~25% faster than with 64 MiB chunks); large enough for efficient GEMMs.
constexpr int64_t kChunkFloats = int64_t(2) << 20;

std::vector<float> scratch;

float* Scratch(int64_t n) {
  if (int64_t(scratch.size()) < n) scratch.resize(n);
  return scratch.data();
}

int64_t ImagesPerChunk(const Geometry& g) {
  const int64_t perImage = g.pixels() * g.K();
  return std::max<int64_t>(1, std::min<int64_t>(g.B, kChunkFloats / std::max<int64_t>(1, perImage)));
}

void Im2Col(const Geometry& g, const float* x, int64_t b0, int64_t b1, float* col) {
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

void Col2ImAdd(const Geometry& g, const float* col, int64_t b0, int64_t b1, float* dx) {
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

void Forward(const Geometry& g, const float* x, const float* w, const float* bias, float* y) {
  const int64_t K = g.K();
  const int64_t step = ImagesPerChunk(g);
  for (int64_t b0 = 0; b0 < g.B; b0 += step) {
    const int64_t b1 = std::min(g.B, b0 + step);
    const int64_t M = (b1 - b0) * g.pixels();
    const float* col = x + b0 * g.H * g.W * g.Ci;
    if (!g.direct()) {
      float* c = Scratch(M * K);
      Im2Col(g, x, b0, b1, c);
      col = c;
    }
    float* out = y + b0 * g.pixels() * g.Co;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, g.Co, K, 1.0f, col, K, w, g.Co, 0.0f, out, g.Co);
    if (bias != nullptr) {
      for (int64_t m = 0; m < M; m++) {
        float* r = out + m * g.Co;
        for (int64_t c = 0; c < g.Co; c++) r[c] += bias[c];
      }
    }
  }
}

void BackpropFilter(const Geometry& g, const float* x, const float* dy, float* dw) {
  const int64_t K = g.K();
  const int64_t step = ImagesPerChunk(g);
  for (int64_t b0 = 0; b0 < g.B; b0 += step) {
    const int64_t b1 = std::min(g.B, b0 + step);
    const int64_t M = (b1 - b0) * g.pixels();
    const float* col = x + b0 * g.H * g.W * g.Ci;
    if (!g.direct()) {
      float* c = Scratch(M * K);
      Im2Col(g, x, b0, b1, c);
      col = c;
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, g.Co, M, 1.0f, col, K, dy + b0 * g.pixels() * g.Co, g.Co,
                b0 == 0 ? 0.0f : 1.0f, dw, g.Co);
  }
}

void BackpropInput(const Geometry& g, const float* dy, const float* w, float* dx) {
  const int64_t K = g.K();
  if (g.direct()) {
    const int64_t M = g.B * g.pixels();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, K, g.Co, 1.0f, dy, g.Co, w, g.Co, 0.0f, dx, K);
    return;
  }
  std::memset(dx, 0, g.B * g.H * g.W * g.Ci * sizeof(float));
  const int64_t step = ImagesPerChunk(g);
  for (int64_t b0 = 0; b0 < g.B; b0 += step) {
    const int64_t b1 = std::min(g.B, b0 + step);
    const int64_t M = (b1 - b0) * g.pixels();
    float* dcol = Scratch(M * K);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, K, g.Co, 1.0f, dy + b0 * g.pixels() * g.Co, g.Co, w, g.Co,
                0.0f, dcol, K);
    Col2ImAdd(g, dcol, b0, b1, dx);
  }
}

// Max-pool gradient: each window's gradient goes to its first maximum (padding never wins), as tfjs's cpu kernel.
// Geometry: [B,H,W,C, OH,OW, FH,FW (effective, dilation included), sh,sw, dh,dw, top,left].
struct PoolGeometry {
  int64_t B, H, W, C, OH, OW, FH, FW, sh, sw, dh, dw, top, left;
};

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

// ---- N-API glue -------------------------------------------------------------------------------------------------

// The float data of a Float32Array (wasm memory views are SharedArrayBuffer-backed; that is fine here).
bool Floats(napi_env env, napi_value v, float** data, size_t* length) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return false;
  napi_typedarray_type type;
  void* raw = nullptr;
  if (napi_get_typedarray_info(env, v, &type, length, &raw, nullptr, nullptr) != napi_ok) return false;
  if (type != napi_float32_array) return false;
  *data = static_cast<float*>(raw);
  return true;
}

// The Int32Array of `n` sizes: the first n-2 (sizes, kernel, strides, dilations) must be positive, the last two
// (leading padding) non-negative.
const int32_t* ReadSizes(napi_env env, napi_value v, size_t n) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return nullptr;
  napi_typedarray_type type;
  size_t length = 0;
  void* raw = nullptr;
  if (napi_get_typedarray_info(env, v, &type, &length, &raw, nullptr, nullptr) != napi_ok) return nullptr;
  if (type != napi_int32_array || length != n) return nullptr;
  const int32_t* a = static_cast<const int32_t*>(raw);
  for (size_t i = 0; i < n; i++) {
    if (a[i] < (i + 2 < n ? 1 : 0)) return nullptr;
  }
  return a;
}

bool ReadGeometry(napi_env env, napi_value v, Geometry* g) {
  const int32_t* a = ReadSizes(env, v, kGeometryLength);
  if (a == nullptr) return false;
  *g = Geometry{a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14]};
  return true;
}

constexpr int kPoolGeometryLength = 14;

bool ReadGeometry(napi_env env, napi_value v, PoolGeometry* g) {
  const int32_t* a = ReadSizes(env, v, kPoolGeometryLength);
  if (a == nullptr) return false;
  *g = PoolGeometry{a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13]};
  return true;
}

// One call's arguments: Float32Arrays (one may be null), then the geometry. Each array's length is checked
// against what the geometry needs, so a wrong call throws instead of reading or writing out of bounds.
template <typename G>
class Call {
 public:
  Call(napi_env env, napi_callback_info info, size_t arrays) : env_(env) {
    size_t argc = 6;
    if (napi_get_cb_info(env, info, &argc, argv_, nullptr, nullptr) != napi_ok || argc != arrays + 1) {
      error_ = "affect-native: wrong number of arguments";
    } else if (!ReadGeometry(env, argv_[arrays], &g)) {
      error_ = "affect-native: the geometry must be an Int32Array of the kernel's sizes (positive; padding >= 0)";
    }
  }
  // The data of array i, which must hold exactly `length` floats; null (when allowed) gives nullptr.
  float* Array(size_t i, int64_t length, bool nullable = false) {
    if (error_ != nullptr) return nullptr;
    napi_valuetype t;
    napi_typeof(env_, argv_[i], &t);
    if (nullable && t == napi_null) return nullptr;
    float* data = nullptr;
    size_t n = 0;
    if (!Floats(env_, argv_[i], &data, &n)) {
      error_ = "affect-native: tensor arguments must be Float32Arrays";
    } else if (int64_t(n) != length) {
      error_ = "affect-native: a tensor's length does not match the geometry";
    }
    return data;
  }
  // Throws the first error, if any; true when the call may go ahead.
  bool Ok() {
    if (error_ != nullptr) napi_throw_type_error(env_, nullptr, error_);
    return error_ == nullptr;
  }
  G g{};

 private:
  napi_env env_;
  napi_value argv_[6];
  const char* error_ = nullptr;
};

int64_t XLength(const Geometry& g) { return g.B * g.H * g.W * g.Ci; }
int64_t WLength(const Geometry& g) { return g.K() * g.Co; }
int64_t YLength(const Geometry& g) { return g.B * g.pixels() * g.Co; }

// conv2d(x, filter, bias | null, y, geometry)
napi_value Conv2D(napi_env env, napi_callback_info info) {
  Call<Geometry> c(env, info, 4);
  const Geometry& g = c.g;
  float* x = c.Array(0, XLength(g));
  float* w = c.Array(1, WLength(g));
  float* bias = c.Array(2, g.Co, true);
  float* y = c.Array(3, YLength(g));
  if (c.Ok()) Forward(g, x, w, bias, y);
  return nullptr;
}

// conv2dBackpropFilter(x, dy, dw, geometry)
napi_value Conv2DBackpropFilter(napi_env env, napi_callback_info info) {
  Call<Geometry> c(env, info, 3);
  const Geometry& g = c.g;
  float* x = c.Array(0, XLength(g));
  float* dy = c.Array(1, YLength(g));
  float* dw = c.Array(2, WLength(g));
  if (c.Ok()) BackpropFilter(g, x, dy, dw);
  return nullptr;
}

// conv2dBackpropInput(dy, filter, dx, geometry)
napi_value Conv2DBackpropInput(napi_env env, napi_callback_info info) {
  Call<Geometry> c(env, info, 3);
  const Geometry& g = c.g;
  float* dy = c.Array(0, YLength(g));
  float* w = c.Array(1, WLength(g));
  float* dx = c.Array(2, XLength(g));
  if (c.Ok()) BackpropInput(g, dy, w, dx);
  return nullptr;
}

// binaryRows(op, full, small, out, smallFirst): out = full (op) small with `small` repeated along full's rows, or
// small (op) full when smallFirst. op: 0 add, 1 sub, 2 mul, 3 div. Batch norm's training graph is made of these
// channel broadcasts, which wasm computes with an index per element.
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

napi_value BinaryRows(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  size_t argc = 5;
  int32_t op = -1;
  bool smallFirst = false;
  float *full = nullptr, *small = nullptr, *out = nullptr;
  size_t fn = 0, cols = 0, on = 0;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc != 5 ||
      napi_get_value_int32(env, argv[0], &op) != napi_ok || op < 0 || op > 3 || !Floats(env, argv[1], &full, &fn) ||
      !Floats(env, argv[2], &small, &cols) || !Floats(env, argv[3], &out, &on) ||
      napi_get_value_bool(env, argv[4], &smallFirst) != napi_ok || cols == 0 || fn % cols != 0 || on != fn) {
    napi_throw_type_error(env, nullptr,
                          "affect-native: binaryRows needs an op 0-3, full, small and out Float32Arrays (out as long as "
                          "full, a multiple of small) and a boolean");
    return nullptr;
  }
  const size_t rows = fn / cols;
  switch (op) {
    case 0: RowsEitherSide(smallFirst, full, small, out, rows, cols, [](float a, float b) { return a + b; }); break;
    case 1: RowsEitherSide(smallFirst, full, small, out, rows, cols, [](float a, float b) { return a - b; }); break;
    case 2: RowsEitherSide(smallFirst, full, small, out, rows, cols, [](float a, float b) { return a * b; }); break;
    default: RowsEitherSide(smallFirst, full, small, out, rows, cols, [](float a, float b) { return a / b; }); break;
  }
  return nullptr;
}

// normalizeRows(x, mean, factor, offset, out): out[r, c] = (x[r, c] - mean[c]) * factor[c] + offset[c], batch norm
// with factor = scale / sqrt(variance + epsilon) worked out by the caller.
napi_value NormalizeRows(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  size_t argc = 5;
  float* p[5] = {nullptr, nullptr, nullptr, nullptr, nullptr};
  size_t n[5] = {0, 0, 0, 0, 0};
  bool ok = napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) == napi_ok && argc == 5;
  for (int i = 0; ok && i < 5; i++) ok = Floats(env, argv[i], &p[i], &n[i]);
  const size_t cols = n[1];
  if (!ok || cols == 0 || n[2] != cols || n[3] != cols || n[0] % cols != 0 || n[4] != n[0]) {
    napi_throw_type_error(env, nullptr,
                          "affect-native: normalizeRows needs x, mean, factor, offset and out Float32Arrays (the three "
                          "vectors of one length that divides x's; out as long as x)");
    return nullptr;
  }
  const float *x = p[0], *mean = p[1], *factor = p[2], *offset = p[3];
  float* out = p[4];
  for (size_t r = 0; r < n[0] / cols; r++) {
    const float* xr = x + r * cols;
    float* o = out + r * cols;
    for (size_t c = 0; c < cols; c++) o[c] = (xr[c] - mean[c]) * factor[c] + offset[c];
  }
  return nullptr;
}

// maxPoolGrad(dy, x, dx, poolGeometry)
napi_value MaxPoolGradCall(napi_env env, napi_callback_info info) {
  Call<PoolGeometry> c(env, info, 3);
  const PoolGeometry& g = c.g;
  float* dy = c.Array(0, g.B * g.OH * g.OW * g.C);
  float* x = c.Array(1, g.B * g.H * g.W * g.C);
  float* dx = c.Array(2, g.B * g.H * g.W * g.C);
  if (c.Ok()) MaxPoolGrad(g, dy, x, dx);
  return nullptr;
}

// sumRows(x, out, scale): out[c] = scale * sum over r of x[r, c], x read as [rows, out.length]. Batch-norm and
// bias gradients reduce over every axis but the channels, which wasm's Sum does by transposing first.
napi_value SumRows(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  size_t argc = 3;
  float *x = nullptr, *out = nullptr;
  size_t xn = 0, cols = 0;
  double scale = 0;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc != 3 ||
      !Floats(env, argv[0], &x, &xn) || !Floats(env, argv[1], &out, &cols) ||
      napi_get_value_double(env, argv[2], &scale) != napi_ok || cols == 0 || xn % cols != 0) {
    napi_throw_type_error(env, nullptr, "affect-native: sumRows needs x, out (Float32Arrays, x.length a multiple of out.length) and a scale");
    return nullptr;
  }
  const size_t rows = xn / cols;
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
  return nullptr;
}

// info() -> { blas: "OpenBLAS <config>", threads }
napi_value Info(napi_env env, napi_callback_info) {
  napi_value out, blas, threads;
  napi_create_object(env, &out);
  napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &blas);
  napi_create_int32(env, openblas_get_num_threads(), &threads);
  napi_set_named_property(env, out, "blas", blas);
  napi_set_named_property(env, out, "threads", threads);
  return out;
}

// setThreads(n): the BLAS thread count.
napi_value SetThreads(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  int32_t n = 0;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc != 1 ||
      napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1) {
    napi_throw_type_error(env, nullptr, "affect-native: setThreads needs a positive integer");
    return nullptr;
  }
  openblas_set_num_threads(n);
  return nullptr;
}

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"conv2d", nullptr, Conv2D, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropFilter", nullptr, Conv2DBackpropFilter, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropInput", nullptr, Conv2DBackpropInput, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"binaryRows", nullptr, BinaryRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"normalizeRows", nullptr, NormalizeRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPoolGrad", nullptr, MaxPoolGradCall, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumRows", nullptr, SumRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
