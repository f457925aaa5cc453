// The addon's N-API surface: checks every argument against the geometry (a wrong call throws a TypeError instead of
// reading or writing out of bounds) and calls the kernels in kernels.h on the arrays' own memory, no copies.
// The JS side (lib/kernels/native.ts) passes views of wasm memory; those are SharedArrayBuffer-backed with wasm
// threads, which N-API's typed-array access handles like any other buffer.
#include <node_api.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>

#include "kernels.h"
#include "parallel.h"

extern "C" char* openblas_get_config(void);
extern "C" int openblas_get_num_threads(void);
extern "C" void openblas_set_num_threads(int);

namespace {

using affect::ConvGeometry;
using affect::MatMulGeometry;
using affect::PoolGeometry;

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

// An Int32Array of `n` sizes: all positive but the last `zeroable` (padding, flags), which may be 0.
const int32_t* ReadSizes(napi_env env, napi_value v, size_t n, size_t zeroable) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return nullptr;
  napi_typedarray_type type;
  size_t length = 0;
  void* raw = nullptr;
  if (napi_get_typedarray_info(env, v, &type, &length, &raw, nullptr, nullptr) != napi_ok) return nullptr;
  if (type != napi_int32_array || length != n) return nullptr;
  const int32_t* a = static_cast<const int32_t*>(raw);
  for (size_t i = 0; i < n; i++) {
    if (a[i] < (i + zeroable < n ? 1 : 0)) return nullptr;
  }
  return a;
}

bool ReadGeometry(napi_env env, napi_value v, ConvGeometry* g) {
  const int32_t* a = ReadSizes(env, v, 15, 2);
  if (a == nullptr) return false;
  *g = ConvGeometry{a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14]};
  return true;
}

bool ReadGeometry(napi_env env, napi_value v, PoolGeometry* g) {
  const int32_t* a = ReadSizes(env, v, 14, 2);
  if (a == nullptr) return false;
  *g = PoolGeometry{a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13]};
  return true;
}

// [batchA, batchB, M, K, N, transposeA, transposeB, relu]: flags 0 or 1; batch sizes equal, or one of them 1.
bool ReadGeometry(napi_env env, napi_value v, MatMulGeometry* g) {
  const int32_t* a = ReadSizes(env, v, 8, 3);
  if (a == nullptr || a[5] > 1 || a[6] > 1 || a[7] > 1) return false;
  if (a[0] != a[1] && a[0] != 1 && a[1] != 1) return false;
  *g = MatMulGeometry{a[0], a[1], a[2], a[3], a[4], a[5] == 1, a[6] == 1, a[7] == 1};
  return true;
}

// A geometry-driven call's arguments: Float32Arrays (one may be null), then the geometry as the last argument.
template <typename G>
class Call {
 public:
  // `optional` arguments may follow the geometry (Optional reads them).
  Call(napi_env env, napi_callback_info info, size_t arrays, size_t optional = 0) : env_(env), given_(6) {
    if (napi_get_cb_info(env, info, &given_, argv_, nullptr, nullptr) != napi_ok || given_ < arrays + 1 ||
        given_ > arrays + 1 + optional) {
      error_ = "affect-native: wrong number of arguments";
    } else if (!ReadGeometry(env, argv_[arrays], &g)) {
      error_ = "affect-native: the geometry must be an Int32Array of the kernel's sizes (positive; padding >= 0; flags 0 or 1; batch sizes equal or 1)";
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
  // Argument i as an integer from 0 to 2^53 (exact in a double); `fallback` where the caller left it out or passed
  // undefined.
  int64_t Optional(size_t i, int64_t fallback, const char* error) {
    if (error_ != nullptr || i >= given_) return fallback;
    napi_valuetype t;
    if (napi_typeof(env_, argv_[i], &t) == napi_ok && t == napi_undefined) return fallback;
    double v = -1;
    if (napi_get_value_double(env_, argv_[i], &v) != napi_ok || !(v >= 0 && v <= 9007199254740992.0) ||
        v != static_cast<double>(static_cast<int64_t>(v))) {
      error_ = error;
      return fallback;
    }
    return static_cast<int64_t>(v);
  }
  // Throws the first error, if any; true when the call may go ahead.
  bool Ok() {
    if (error_ != nullptr) napi_throw_type_error(env_, nullptr, error_);
    return error_ == nullptr;
  }
  G g{};

 private:
  napi_env env_;
  size_t given_;
  napi_value argv_[6];
  const char* error_ = nullptr;
};

// A product of sizes, or -1 (which no array length matches) when it overflows: the checked lengths bound every
// index the kernels compute.
int64_t Product(std::initializer_list<int64_t> sizes) {
  int64_t p = 1;
  for (int64_t s : sizes) {
    if (__builtin_mul_overflow(p, s, &p)) return -1;
  }
  return p;
}

int64_t XLength(const ConvGeometry& g) { return Product({g.B, g.H, g.W, g.Ci}); }
int64_t WLength(const ConvGeometry& g) { return Product({g.KH, g.KW, g.Ci, g.Co}); }
int64_t YLength(const ConvGeometry& g) { return Product({g.B, g.OH, g.OW, g.Co}); }

napi_value Throw(napi_env env, const char* message) {
  napi_throw_type_error(env, nullptr, message);
  return nullptr;
}

// Whether oneDNN runs the convolutions (where it is built in): AFFECT_CONV=onednn or im2col, read once as the addon
// first loads; else oneDNN, in all three directions, which measured faster than im2col on ResNet-18's layers (the
// README's settings paragraph).
struct ConvolutionChoice {
  bool onednn;
  std::string error;  // a bad AFFECT_CONV
};

ConvolutionChoice ChooseConvolutions(const char* setting) {
#ifdef AFFECT_DNNL
  const bool built = true;
#else
  const bool built = false;
#endif
  if (setting == nullptr || *setting == '\0') return {built, ""};
  if (std::strcmp(setting, "im2col") == 0) return {false, ""};
  if (std::strcmp(setting, "onednn") != 0) {
    return {false, std::string("AFFECT_CONV must be onednn or im2col, got \"") + setting + "\""};
  }
  if (!built) {
    return {false, "AFFECT_CONV=onednn, but the addon was built without oneDNN (install libdnnl-dev, then npm run build)"};
  }
  return {true, ""};
}

// Every thread that loads the addon sees the same process environment.
const ConvolutionChoice& Chosen() {
  static const ConvolutionChoice c = ChooseConvolutions(std::getenv("AFFECT_CONV"));
  return c;
}

// Each direction runs im2col where oneDNN is not chosen or declines the geometry.
void ConvForward(const ConvGeometry& g, const float* x, const float* w, int64_t filterId, const float* bias, float* y) {
#ifdef AFFECT_DNNL
  if (Chosen().onednn && affect::onednn::Conv2DForward(g, x, w, filterId, bias, y)) return;
#endif
  affect::im2col::Conv2DForward(g, x, w, bias, y);
}

void ConvBackpropFilter(const ConvGeometry& g, const float* x, const float* dy, float* dw) {
#ifdef AFFECT_DNNL
  if (Chosen().onednn && affect::onednn::Conv2DBackpropFilter(g, x, dy, dw)) return;
#endif
  affect::im2col::Conv2DBackpropFilter(g, x, dy, dw);
}

void ConvBackpropInput(const ConvGeometry& g, const float* dy, const float* w, float* dx) {
#ifdef AFFECT_DNNL
  if (Chosen().onednn && affect::onednn::Conv2DBackpropInput(g, dy, w, dx)) return;
#endif
  affect::im2col::Conv2DBackpropInput(g, dy, w, dx);
}

// "oneDNN 2.6.3", or "im2col + " and what runs the matrix products.
std::string DescribeConvolutions() {
#ifdef AFFECT_DNNL
  if (Chosen().onednn) return affect::onednn::Version();
#endif
  return "im2col + " + affect::GemmLibrary();
}

// conv2d(x, filter, bias | null, y, geometry, filterId = 0): filterId, an integer > 0 that no other filter value ever
// has, keeps the filter's reordered layout under it (until forgetFilter); 0 (or undefined) for a filter that may change.
napi_value Conv2D(napi_env env, napi_callback_info info) {
  Call<ConvGeometry> c(env, info, 4, 1);
  float* x = c.Array(0, XLength(c.g));
  float* w = c.Array(1, WLength(c.g));
  float* bias = c.Array(2, c.g.Co, true);
  float* y = c.Array(3, YLength(c.g));
  const int64_t filterId = c.Optional(5, 0, "affect-native: a filter id must be an integer >= 0");
  if (c.Ok()) ConvForward(c.g, x, w, filterId, bias, y);
  return nullptr;
}

// forgetFilter(filterId): drops what conv2d keeps under filterId (an integer >= 0).
napi_value ForgetFilter(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  double id = -1;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc != 1 ||
      napi_get_value_double(env, argv[0], &id) != napi_ok || !(id >= 0 && id <= 9007199254740992.0) ||
      id != static_cast<double>(static_cast<int64_t>(id))) {
    return Throw(env, "affect-native: forgetFilter needs a filter id (an integer >= 0)");
  }
#ifdef AFFECT_DNNL
  affect::onednn::ForgetFilter(static_cast<int64_t>(id));
#endif
  return nullptr;
}

using LengthOf = int64_t (*)(const ConvGeometry&);
using GradientKernel = void (*)(const ConvGeometry&, const float*, const float*, float*);

// A gradient call (two inputs, one output, then the geometry), each array's length given by the geometry.
napi_value GradientCall(napi_env env, napi_callback_info info, LengthOf a, LengthOf b, LengthOf out, GradientKernel kernel) {
  Call<ConvGeometry> c(env, info, 3);
  float* pa = c.Array(0, a(c.g));
  float* pb = c.Array(1, b(c.g));
  float* po = c.Array(2, out(c.g));
  if (c.Ok()) kernel(c.g, pa, pb, po);
  return nullptr;
}

// conv2dBackpropFilter(x, dy, dw, geometry)
napi_value Conv2DBackpropFilter(napi_env env, napi_callback_info info) {
  return GradientCall(env, info, XLength, YLength, WLength, ConvBackpropFilter);
}

// conv2dBackpropInput(dy, filter, dx, geometry)
napi_value Conv2DBackpropInput(napi_env env, napi_callback_info info) {
  return GradientCall(env, info, YLength, WLength, XLength, ConvBackpropInput);
}

// maxPoolGrad(dy, x, dx, poolGeometry)
napi_value MaxPoolGrad(napi_env env, napi_callback_info info) {
  Call<PoolGeometry> c(env, info, 3);
  const PoolGeometry& g = c.g;
  float* dy = c.Array(0, Product({g.B, g.OH, g.OW, g.C}));
  float* x = c.Array(1, Product({g.B, g.H, g.W, g.C}));
  float* dx = c.Array(2, Product({g.B, g.H, g.W, g.C}));
  if (c.Ok()) affect::MaxPoolGrad(g, dy, x, dx);
  return nullptr;
}

// maxPool(x, y, poolGeometry)
napi_value MaxPool(napi_env env, napi_callback_info info) {
  Call<PoolGeometry> c(env, info, 2);
  const PoolGeometry& g = c.g;
  float* x = c.Array(0, Product({g.B, g.H, g.W, g.C}));
  float* y = c.Array(1, Product({g.B, g.OH, g.OW, g.C}));
  if (c.Ok()) affect::MaxPool(g, x, y);
  return nullptr;
}

// matMul(a, b, bias | null, out, matMulGeometry)
napi_value MatMul(napi_env env, napi_callback_info info) {
  Call<MatMulGeometry> c(env, info, 4);
  const MatMulGeometry& g = c.g;
  float* a = c.Array(0, Product({g.batchA, g.M, g.K}));
  float* b = c.Array(1, Product({g.batchB, g.K, g.N}));
  float* bias = c.Array(2, g.N, true);
  float* out = c.Array(3, Product({g.batch(), g.M, g.N}));
  if (c.Ok()) affect::MatMul(g, a, b, bias, out);
  return nullptr;
}

// binaryRows(op, full, small, out, smallFirst), op 0 add, 1 sub, 2 mul, 3 div
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
    return Throw(env, "affect-native: binaryRows needs an op 0-3, full, small and out Float32Arrays (out as long as full, "
                      "a multiple of small) and a boolean");
  }
  affect::BinaryRows(static_cast<affect::BinaryOp>(op), full, small, out, fn / cols, cols, smallFirst);
  return nullptr;
}

// normalizeRows(x, mean, factor, offset, out)
napi_value NormalizeRows(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  size_t argc = 5;
  float* p[5] = {nullptr, nullptr, nullptr, nullptr, nullptr};
  size_t n[5] = {0, 0, 0, 0, 0};
  bool ok = napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) == napi_ok && argc == 5;
  for (int i = 0; ok && i < 5; i++) ok = Floats(env, argv[i], &p[i], &n[i]);
  const size_t cols = n[1];
  if (!ok || cols == 0 || n[2] != cols || n[3] != cols || n[0] % cols != 0 || n[4] != n[0]) {
    return Throw(env, "affect-native: normalizeRows needs x, mean, factor, offset and out Float32Arrays (the three "
                      "vectors of one length that divides x's; out as long as x)");
  }
  affect::NormalizeRows(p[0], p[1], p[2], p[3], p[4], n[0] / cols, cols);
  return nullptr;
}

// Reads `n` Float32Arrays and then a number from a call of exactly n + 1 + extra arguments (the `extra` last ones into
// `extras`, for the caller to read): the first array x is [rows, cols], the arrays in `full` as long as x and the
// others `cols` long, cols being the length of array `colsFrom`.
bool RowsCall(napi_env env, napi_callback_info info, size_t n, std::initializer_list<size_t> full, size_t colsFrom,
              float** p, double* number, size_t* rows, size_t* cols, size_t extra, napi_value* extras) {
  napi_value argv[12];
  size_t argc = 12;
  size_t len[12] = {};
  if (n + 1 + extra > 12 || napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok ||
      argc != n + 1 + extra)
    return false;
  for (size_t i = 0; i < n; i++) {
    if (!Floats(env, argv[i], &p[i], &len[i])) return false;
  }
  if (napi_get_value_double(env, argv[n], number) != napi_ok) return false;
  for (size_t i = 0; i < extra; i++) extras[i] = argv[n + 1 + i];
  *cols = len[colsFrom];
  if (*cols == 0 || len[0] == 0 || len[0] % *cols != 0) return false;
  *rows = len[0] / *cols;
  for (size_t i = 0; i < n; i++) {
    bool isFull = false;
    for (size_t f : full) isFull = isFull || f == i;
    if (len[i] != (isFull ? len[0] : *cols)) return false;
  }
  return true;
}

// batchNormTraining(x, scale, offset, y, mean, variance, epsilon, relu)
napi_value BatchNormTraining(napi_env env, napi_callback_info info) {
  float* p[6] = {};
  double epsilon = 0;
  size_t rows = 0, cols = 0;
  napi_value relu;
  bool withRelu = false;
  if (!RowsCall(env, info, 6, {0, 3}, 1, p, &epsilon, &rows, &cols, 1, &relu) || !(epsilon >= 0) ||
      napi_get_value_bool(env, relu, &withRelu) != napi_ok) {
    return Throw(env, "affect-native: batchNormTraining needs x, scale, offset, y, mean and variance Float32Arrays (y as "
                      "long as x, the others one length that divides x's), an epsilon >= 0 and a boolean (relu)");
  }
  affect::BatchNormTraining(p[0], p[1], p[2], float(epsilon), p[3], p[4], p[5], rows, cols, withRelu);
  return nullptr;
}

// batchNormTrainingGrad(dy, x, scale, mean, variance, dx, dscale, doffset, epsilon, reluOffset), reluOffset null
// unless the forward pass ran with relu (then its offset)
napi_value BatchNormTrainingGrad(napi_env env, napi_callback_info info) {
  float* p[8] = {};
  double epsilon = 0;
  size_t rows = 0, cols = 0, offsetLength = 0;
  napi_value offsetArg;
  float* reluOffset = nullptr;
  napi_valuetype offsetType = napi_undefined;
  bool ok = RowsCall(env, info, 8, {0, 1, 5}, 2, p, &epsilon, &rows, &cols, 1, &offsetArg) && epsilon >= 0 &&
            napi_typeof(env, offsetArg, &offsetType) == napi_ok;
  if (ok && offsetType != napi_null) ok = Floats(env, offsetArg, &reluOffset, &offsetLength) && offsetLength == cols;
  if (!ok) {
    return Throw(env, "affect-native: batchNormTrainingGrad needs dy, x, scale, mean, variance, dx, dscale and doffset "
                      "Float32Arrays (x and dx as long as dy, the others one length that divides dy's), an epsilon >= 0 "
                      "and the forward's offset (a Float32Array as long as scale) or null");
  }
  affect::BatchNormTrainingGrad(p[0], p[1], p[2], p[3], p[4], reluOffset, float(epsilon), p[5], p[6], p[7], rows, cols);
  return nullptr;
}

// sumRows(x, out, scale)
napi_value SumRows(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  size_t argc = 3;
  float *x = nullptr, *out = nullptr;
  size_t xn = 0, cols = 0;
  double scale = 0;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc != 3 ||
      !Floats(env, argv[0], &x, &xn) || !Floats(env, argv[1], &out, &cols) ||
      napi_get_value_double(env, argv[2], &scale) != napi_ok || cols == 0 || xn % cols != 0) {
    return Throw(env, "affect-native: sumRows needs x, out (Float32Arrays, x.length a multiple of out.length) and a scale");
  }
  affect::SumRows(x, out, xn / cols, cols, scale);
  return nullptr;
}

// An elementwise kernel of x into out, Float32Arrays of one length (one array for an in-place call).
napi_value Elementwise(napi_env env, napi_callback_info info, const char* error,
                       void (*kernel)(const float*, float*, size_t)) {
  napi_value argv[2];
  size_t argc = 2;
  float *x = nullptr, *out = nullptr;
  size_t xn = 0, on = 0;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc != 2 || !Floats(env, argv[0], &x, &xn) ||
      !Floats(env, argv[1], &out, &on) || on != xn) {
    return Throw(env, error);
  }
  kernel(x, out, xn);
  return nullptr;
}

// sqrt(x, out)
napi_value Sqrt(napi_env env, napi_callback_info info) {
  return Elementwise(env, info, "affect-native: sqrt needs x and out Float32Arrays of one length", affect::Sqrt);
}

// relu(x, out)
napi_value Relu(napi_env env, napi_callback_info info) {
  return Elementwise(env, info, "affect-native: relu needs x and out Float32Arrays of one length", affect::Relu);
}

// A kernel of two inputs into an output, Float32Arrays of one length.
napi_value Ternary(napi_env env, napi_callback_info info, const char* error,
                   void (*kernel)(const float*, const float*, float*, size_t)) {
  napi_value argv[3];
  size_t argc = 3;
  float* p[3] = {nullptr, nullptr, nullptr};
  size_t n[3] = {0, 0, 0};
  bool ok = napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) == napi_ok && argc == 3;
  for (int i = 0; ok && i < 3; i++) ok = Floats(env, argv[i], &p[i], &n[i]);
  if (!ok || n[1] != n[0] || n[2] != n[0]) return Throw(env, error);
  kernel(p[0], p[1], p[2], n[0]);
  return nullptr;
}

// reluGrad(dy, x, dx)
napi_value ReluGrad(napi_env env, napi_callback_info info) {
  return Ternary(env, info, "affect-native: reluGrad needs dy, x and dx Float32Arrays of one length", affect::ReluGrad);
}

// addRelu(a, b, out)
napi_value AddRelu(napi_env env, napi_callback_info info) {
  return Ternary(env, info, "affect-native: addRelu needs a, b and out Float32Arrays of one length", affect::AddRelu);
}

// An optimizer update's arguments: `arrays` Float32Arrays of one length (the weight, its gradient, then its moments;
// the last may be null when `lastNullable`), a Float32Array of `coefficients` floats, then `extra` arguments the
// caller reads. The arrays must not overlap: the kernels write the weight and the moments in place.
class UpdateCall {
 public:
  UpdateCall(napi_env env, napi_callback_info info, size_t arrays, bool lastNullable, size_t coefficients, size_t extra) {
    size_t argc = kMaxArgs;
    ok_ = napi_get_cb_info(env, info, &argc, argv_, nullptr, nullptr) == napi_ok && argc == arrays + 1 + extra;
    for (size_t i = 0; ok_ && i < arrays; i++) {
      napi_valuetype t;
      napi_typeof(env, argv_[i], &t);
      if (lastNullable && i + 1 == arrays && t == napi_null) continue;
      size_t n = 0;
      ok_ = Floats(env, argv_[i], &data_[i], &n) && (i == 0 || n == length_);
      if (i == 0) length_ = n;
    }
    size_t n = 0;
    ok_ = ok_ && Floats(env, argv_[arrays], &coefficients_, &n) && n == coefficients;
    for (size_t i = 0; ok_ && i < arrays; i++) {
      for (size_t j = 0; ok_ && j < i; j++) ok_ = !Overlap(data_[i], data_[j]);
    }
  }
  bool Ok() const { return ok_; }
  float* Array(size_t i) const { return data_[i]; }
  const float* Coefficients() const { return coefficients_; }
  size_t Length() const { return length_; }
  napi_value Arg(size_t i) const { return argv_[i]; }

 private:
  static constexpr size_t kMaxArgs = 6;
  // As integers: pointers into different buffers are not ordered in C++.
  bool Overlap(const float* a, const float* b) const {
    const uintptr_t x = reinterpret_cast<uintptr_t>(a), y = reinterpret_cast<uintptr_t>(b), n = length_ * sizeof(float);
    return a != nullptr && b != nullptr && x < y + n && y < x + n;
  }
  napi_value argv_[kMaxArgs];
  float* data_[4] = {nullptr, nullptr, nullptr, nullptr};
  float* coefficients_ = nullptr;
  size_t length_ = 0;
  bool ok_ = false;
};

// sgdUpdate(w, g, velocity | null, [lr, momentum, l2Gradient], nesterov) -> sum w² before the update (0 without L2)
napi_value SgdUpdate(napi_env env, napi_callback_info info) {
  UpdateCall c(env, info, 3, true, 3, 1);
  bool nesterov = false;
  if (!c.Ok() || napi_get_value_bool(env, c.Arg(4), &nesterov) != napi_ok) {
    return Throw(env, "affect-native: sgdUpdate needs w, g and velocity (or null) Float32Arrays of one length that do not "
                      "overlap, a Float32Array [lr, momentum, l2Gradient] and a boolean (Nesterov)");
  }
  const float* k = c.Coefficients();
  const double squares =
      affect::SgdUpdate(c.Array(0), c.Array(1), c.Array(2), c.Length(), affect::SgdCoefficients{k[0], k[1], k[2], nesterov});
  napi_value out;
  napi_create_double(env, squares, &out);
  return out;
}

// adamUpdate(w, g, m, v, [decay, 1 - beta1, 1 - beta2, alpha, epsilon, l2Gradient]) -> as sgdUpdate's
napi_value AdamUpdate(napi_env env, napi_callback_info info) {
  UpdateCall c(env, info, 4, false, 6, 0);
  if (!c.Ok()) {
    return Throw(env, "affect-native: adamUpdate needs w, g, m and v Float32Arrays of one length that do not overlap and a "
                      "Float32Array [decay, 1 - beta1, 1 - beta2, alpha, epsilon, l2Gradient]");
  }
  const float* k = c.Coefficients();
  const double squares = affect::AdamUpdate(c.Array(0), c.Array(1), c.Array(2), c.Array(3), c.Length(),
                                            affect::AdamCoefficients{k[0], k[1], k[2], k[3], k[4], k[5]});
  napi_value out;
  napi_create_double(env, squares, &out);
  return out;
}

#ifdef AFFECT_AVX2
constexpr const char* kInstructions = "AVX2";
#else
constexpr const char* kInstructions = "baseline";
#endif

// info() -> { blas: "OpenBLAS <config>", gemm: what runs the matrix products, convolutions: "oneDNN <version>" or
// "im2col + <gemm>", instructions: what the addon's own loops were compiled for ("AVX2" or "baseline"), threads }
napi_value Info(napi_env env, napi_callback_info) {
  napi_value out, blas, gemm, convolutions, instructions, threads;
  napi_create_object(env, &out);
  napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &blas);
  napi_create_string_utf8(env, affect::GemmLibrary().c_str(), NAPI_AUTO_LENGTH, &gemm);
  napi_create_string_utf8(env, DescribeConvolutions().c_str(), NAPI_AUTO_LENGTH, &convolutions);
  napi_create_string_utf8(env, kInstructions, NAPI_AUTO_LENGTH, &instructions);
  napi_create_int32(env, affect::kernelThreads.load(), &threads);
  napi_set_named_property(env, out, "blas", blas);
  napi_set_named_property(env, out, "instructions", instructions);
  napi_set_named_property(env, out, "gemm", gemm);
  napi_set_named_property(env, out, "convolutions", convolutions);
  napi_set_named_property(env, out, "threads", threads);
  return out;
}

// setThreads(n): the thread count of the matrix products, convolutions and the addon's own kernels.
napi_value SetThreads(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  int32_t n = 0;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc != 1 ||
      napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1) {
    return Throw(env, "affect-native: setThreads needs a positive integer");
  }
  openblas_set_num_threads(n);
  affect::kernelThreads.store(n);
#ifdef AFFECT_DNNL
  affect::onednn::SetThreads(n);
#endif
  return nullptr;
}

napi_value Init(napi_env env, napi_value exports) {
#ifdef AFFECT_AVX2
  // lib/kernels/native.ts checks the build's stamp before loading; this covers a build made by hand.
  if (!__builtin_cpu_supports("avx2")) {
    napi_throw_error(env, nullptr,
                     "affect-native: built for AVX2, which this CPU lacks: run npm run build on this machine "
                     "(AFFECT_NATIVE_PORTABLE=1 npm run build makes an addon for any x86-64)");
    return nullptr;
  }
#endif
  if (!Chosen().error.empty()) {
    napi_throw_error(env, nullptr, ("affect-native: " + Chosen().error).c_str());
    return nullptr;
  }
  // Every kernel starts with OpenBLAS's count (every core, or OPENBLAS_NUM_THREADS): one setting governs all.
  affect::kernelThreads.store(openblas_get_num_threads());
#ifdef AFFECT_DNNL
  affect::onednn::SetThreads(openblas_get_num_threads());
#endif
  const napi_property_descriptor props[] = {
      {"conv2d", nullptr, Conv2D, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"forgetFilter", nullptr, ForgetFilter, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropFilter", nullptr, Conv2DBackpropFilter, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropInput", nullptr, Conv2DBackpropInput, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"matMul", nullptr, MatMul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPool", nullptr, MaxPool, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPoolGrad", nullptr, MaxPoolGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"binaryRows", nullptr, BinaryRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"normalizeRows", nullptr, NormalizeRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumRows", nullptr, SumRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchNormTraining", nullptr, BatchNormTraining, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchNormTrainingGrad", nullptr, BatchNormTrainingGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sqrt", nullptr, Sqrt, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"relu", nullptr, Relu, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reluGrad", nullptr, ReluGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"addRelu", nullptr, AddRelu, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sgdUpdate", nullptr, SgdUpdate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adamUpdate", nullptr, AdamUpdate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
