// Convolutions and matrix products on oneDNN. Convolutions run on the caller's NHWC activations (a blocked layout
// measured slower but on small maps, see SmallMaps: its reorders cost more than the primitives gained) and filters
// reordered to the layout each primitive picks (format_tag::any; plain hwio gets oneDNN's own im2col + gemm, slower
// still). Each primitive is planned once per geometry and thread: creating the descriptors, even with oneDNN's
// primitive cache, added 30-100 us to calls that take 300 us. Built without exceptions, like the rest of the addon,
// dnnl.hpp aborts on an error: geometries oneDNN would reject are left to im2col, and a missing implementation comes
// back as an empty descriptor (allow_empty).
#include <omp.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernels.h"

namespace affect {
namespace onednn {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;

constexpr memory::data_type kF32 = memory::data_type::f32;

// OpenMP keeps its thread count per calling thread, so each call applies this one (0: OpenMP's default).
std::atomic<int> requestedThreads{0};

// Applies SetThreads' count to the calling thread; every call into oneDNN does first.
void ApplyThreads() {
  const int threads = requestedThreads.load();
  if (threads > 0 && omp_get_max_threads() != threads) omp_set_num_threads(threads);
}

const dnnl::engine& Engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// A 64-byte-aligned buffer that only grows: reordered filters and scratchpads reuse it from call to call.
class Buffer {
 public:
  ~Buffer() { std::free(data_); }
  void* Get(size_t bytes) {
    if (bytes > size_) {
      std::free(data_);
      size_ = (bytes + 63) / 64 * 64;
      data_ = std::aligned_alloc(64, size_);
    }
    return data_;
  }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

enum class Direction { kForward, kForwardBias, kFilter, kInput };

// One of a primitive's tensors: the caller's layout, the primitive's, and the reorder between them where they differ.
struct Tensor {
  int arg;
  memory::desc user, own;
  dnnl::reorder reorder;
};

// A primitive for one geometry: its inputs (two, then a convolution's bias if any) and its output.
struct Plan {
  dnnl::primitive primitive;
  std::vector<Tensor> inputs;
  Tensor output;
  memory::desc scratchpad;
};

Tensor MakeTensor(int arg, const memory::desc& user, const memory::desc& own, bool isOutput) {
  Tensor t{arg, user, own, {}};
  if (user != own) {
    t.reorder = isOutput ? dnnl::reorder(dnnl::reorder::primitive_desc(Engine(), own, Engine(), user))
                         : dnnl::reorder(dnnl::reorder::primitive_desc(Engine(), user, Engine(), own));
  }
  return t;
}

// The padding after the last row and column that makes the output OH x OW (negative where trailing rows go unread).
memory::dims TrailingPadding(const ConvGeometry& g) {
  return {(g.OH - 1) * g.sh + (g.KH - 1) * g.dh + 1 - g.H - g.top,
          (g.OW - 1) * g.sw + (g.KW - 1) * g.dw + 1 - g.W - g.left};
}

// The last stages' 2x2 and 3x3 output maps, where oneDNN's NHWC kernels use their registers poorly (ResNet-18 and -50
// at 48 and 96 px, each direction timed alternately, twice): there the filter gradients and 1x1 forward convolutions
// ran 1.1-2x faster as im2col + the matmul, and larger forward filters 1.1-1.7x faster on oneDNN's blocked layout,
// reorders included. Input gradients ran 1.1-2.9x faster on im2col too, but for stride-1 3x3 maps (5-9 pixels) with
// fewer than 512 input channels (1.5x slower there).
bool SmallMaps(const ConvGeometry& g) { return g.pixels() <= 9; }

bool InputGradientOnIm2col(const ConvGeometry& g) {
  return SmallMaps(g) && (g.sh > 1 || g.sw > 1 || g.pixels() <= 4 || g.Ci >= 512);
}

// Moves pd past the implementations that run on oneDNN 2.6's gemm kernels (jit_avx*_gemm_f32, named "gemm:..." as
// convolutions, behind dnnl_sgemm, and the matmul primitive's non-brgemm fallbacks): they point the stack pointer into
// the heap, and a signal arriving then (a profiler's, Ctrl-C, a child's exit) corrupts the heap (oneDNN issue 4845,
// fixed after 2.6); dnnl_sgemm crashed a profiled training step here. False where nothing else is left.
template <typename PrimitiveDesc>
bool SkipGemmKernels(PrimitiveDesc& pd, const char* keep) {
  while (pd && std::strncmp(pd.impl_info_str(), "gemm", 4) == 0) {
    if (!pd.next_impl()) return false;
  }
  return pd && (keep == nullptr || std::strncmp(pd.impl_info_str(), keep, std::strlen(keep)) == 0);
}

// Null where oneDNN has no primitive for g and d (or only gemm-based ones).
std::unique_ptr<Plan> MakePlan(const ConvGeometry& g, Direction d) {
  const dnnl::algorithm direct = dnnl::algorithm::convolution_direct;
  const memory::desc x({g.B, g.Ci, g.H, g.W}, kF32, Tag::nhwc);
  const memory::desc y({g.B, g.Co, g.OH, g.OW}, kF32, Tag::nhwc);
  const memory::desc w({g.Co, g.Ci, g.KH, g.KW}, kF32, Tag::hwio);
  const memory::desc anyW({g.Co, g.Ci, g.KH, g.KW}, kF32, Tag::any);
  const memory::desc b({g.Co}, kF32, Tag::x);
  const bool blocked = (d == Direction::kForward || d == Direction::kForwardBias) && SmallMaps(g);
  const memory::desc xp = blocked ? memory::desc({g.B, g.Ci, g.H, g.W}, kF32, Tag::any) : x;
  const memory::desc yp = blocked ? memory::desc({g.B, g.Co, g.OH, g.OW}, kF32, Tag::any) : y;
  // oneDNN counts dilation from 0.
  const memory::dims strides{g.sh, g.sw}, dilations{g.dh - 1, g.dw - 1}, left{g.top, g.left};
  const memory::dims right = TrailingPadding(g);
  // Scratchpads come from this file's per-thread buffers, not from an allocation per call.
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const bool bias = d == Direction::kForwardBias;
  const dnnl::convolution_forward::desc forward(dnnl::prop_kind::forward_training, direct, xp, anyW,
                                                bias ? b : memory::desc(), yp, strides, dilations, left, right);
  dnnl::convolution_forward::primitive_desc fwd(forward, attr, Engine(), true);
  if (!SkipGemmKernels(fwd, nullptr)) return nullptr;
  auto plan = std::make_unique<Plan>();
  if (d == Direction::kForward || bias) {
    plan->primitive = dnnl::convolution_forward(fwd);
    plan->inputs = {MakeTensor(DNNL_ARG_SRC, x, fwd.src_desc(), false),
                    MakeTensor(DNNL_ARG_WEIGHTS, w, fwd.weights_desc(), false)};
    if (bias) plan->inputs.push_back(MakeTensor(DNNL_ARG_BIAS, b, fwd.bias_desc(), false));
    plan->output = MakeTensor(DNNL_ARG_DST, y, fwd.dst_desc(), true);
    plan->scratchpad = fwd.scratchpad_desc();
  } else if (d == Direction::kFilter) {
    const dnnl::convolution_backward_weights::desc desc(direct, x, anyW, y, strides, dilations, left, right);
    dnnl::convolution_backward_weights::primitive_desc pd(desc, attr, Engine(), fwd, true);
    if (!SkipGemmKernels(pd, nullptr)) return nullptr;
    plan->primitive = dnnl::convolution_backward_weights(pd);
    plan->inputs = {MakeTensor(DNNL_ARG_SRC, x, pd.src_desc(), false),
                    MakeTensor(DNNL_ARG_DIFF_DST, y, pd.diff_dst_desc(), false)};
    plan->output = MakeTensor(DNNL_ARG_DIFF_WEIGHTS, w, pd.diff_weights_desc(), true);
    plan->scratchpad = pd.scratchpad_desc();
  } else {
    const dnnl::convolution_backward_data::desc desc(direct, x, anyW, y, strides, dilations, left, right);
    dnnl::convolution_backward_data::primitive_desc pd(desc, attr, Engine(), fwd, true);
    if (!SkipGemmKernels(pd, nullptr)) return nullptr;
    plan->primitive = dnnl::convolution_backward_data(pd);
    plan->inputs = {MakeTensor(DNNL_ARG_DIFF_DST, y, pd.diff_dst_desc(), false),
                    MakeTensor(DNNL_ARG_WEIGHTS, w, pd.weights_desc(), false)};
    plan->output = MakeTensor(DNNL_ARG_DIFF_SRC, x, pd.diff_src_desc(), true);
    plan->scratchpad = pd.scratchpad_desc();
  }
  return plan;
}

// The plan under `fields`, made by `make` on first use (null where oneDNN has none), and kept per thread like the stream
// and buffers Run uses (no locks). The thread count is part of the key: the primitives split their work for the count
// they were created with.
template <typename Make>
const Plan* CachedPlan(std::initializer_list<int64_t> fields, Make make) {
  ApplyThreads();
  std::string key;
  for (int64_t f : fields) key.append(reinterpret_cast<const char*>(&f), sizeof f);
  const int64_t threads = omp_get_max_threads();
  key.append(reinterpret_cast<const char*>(&threads), sizeof threads);
  thread_local std::unordered_map<std::string, std::unique_ptr<Plan>> plans;
  auto it = plans.find(key);
  if (it == plans.end()) {
    // Bounded for processes that see many shapes; a training run repeats a few dozen.
    if (plans.size() >= 512) plans.clear();
    it = plans.emplace(std::move(key), make()).first;
  }
  return it->second.get();
}

// The plan for g and d, or null where oneDNN would reject g: it wants the trailing padding above -stride, which only an
// output leaving a stride or more of trailing rows unread (never one of tfjs's) misses.
const Plan* FindPlan(const ConvGeometry& g, Direction d) {
  const memory::dims right = TrailingPadding(g);
  if (right[0] + g.sh <= 0 || right[1] + g.sw <= 0) return nullptr;
  return CachedPlan(
      {0, g.B, g.H, g.W, g.Ci, g.OH, g.OW, g.Co, g.KH, g.KW, g.sh, g.sw, g.dh, g.dw, g.top, g.left, int64_t(d)},
      [&] { return MakePlan(g, d); });
}

// C = op(A) * op(B) (+ C when accumulating), row-major with the given leading dimensions, or null without a brgemm
// kernel for it: the matmul's other implementations are its gemm-based one (see SkipGemmKernels) and a reference loop.
std::unique_ptr<Plan> MakeMatMulPlan(bool transA, bool transB, int64_t M, int64_t N, int64_t K, int64_t lda,
                                     int64_t ldb, int64_t ldc, bool accumulate) {
  const memory::desc a({M, K}, kF32, transA ? memory::dims{1, lda} : memory::dims{lda, 1});
  const memory::desc b({K, N}, kF32, transB ? memory::dims{1, ldb} : memory::dims{ldb, 1});
  const memory::desc c({M, N}, kF32, memory::dims{ldc, 1});
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (accumulate) {
    dnnl::post_ops ops;
    ops.append_sum(1.0f);
    attr.set_post_ops(ops);
  }
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), attr, Engine(), true);
  if (!SkipGemmKernels(pd, "brg")) return nullptr;
  auto plan = std::make_unique<Plan>();
  plan->primitive = dnnl::matmul(pd);
  plan->inputs = {MakeTensor(DNNL_ARG_SRC, a, pd.src_desc(), false),
                  MakeTensor(DNNL_ARG_WEIGHTS, b, pd.weights_desc(), false)};
  plan->output = MakeTensor(DNNL_ARG_DST, c, pd.dst_desc(), true);
  plan->scratchpad = pd.scratchpad_desc();
  return plan;
}

// Filters reordered to a primitive's layout, kept for the filters the caller says never change (constant ids: batch norm
// folded into a frozen backbone's convolutions): reordering them on every call cost a frozen ResNet-50 a few percent of
// its forward pass. Kept until the caller forgets the id, or least recently used first out beyond kKeptFilterBytes
// (ResNet-50's folded filters: 94 MB).
constexpr size_t kKeptFilterBytes = size_t(256) << 20;

class KeptFilters {
 public:
  // The filter with constant id `id` (> 0) in layout t.own, reordered from `data` on first use.
  void* Get(int64_t id, const Tensor& t, const float* data, dnnl::stream& stream) {
    // A few dozen entries: a search costs far less than the reorder it saves.
    for (auto it = kept_.begin(); it != kept_.end(); ++it) {
      if (it->id == id && it->layout == t.own) {
        kept_.splice(kept_.begin(), kept_, it);
        return kept_.front().buffer->Get(kept_.front().layout.get_size());
      }
    }
    const size_t bytes = t.own.get_size();
    while (!kept_.empty() && total_ + bytes > kKeptFilterBytes) {
      total_ -= kept_.back().layout.get_size();
      kept_.pop_back();
    }
    auto buffer = std::make_unique<Buffer>();
    void* own = buffer->Get(bytes);
    const dnnl::engine& e = Engine();
    memory user(t.user, e, const_cast<float*>(data));
    memory reordered(t.own, e, own);
    t.reorder.execute(stream, user, reordered);
    kept_.push_front({id, t.own, std::move(buffer)});
    total_ += bytes;
    return own;
  }

  void Forget(int64_t id) {
    for (auto it = kept_.begin(); it != kept_.end();) {
      if (it->id != id) {
        ++it;
        continue;
      }
      total_ -= it->layout.get_size();
      it = kept_.erase(it);
    }
  }

 private:
  struct Entry {
    int64_t id;
    memory::desc layout;
    std::unique_ptr<Buffer> buffer;
  };
  // Most recently used first.
  std::list<Entry> kept_;
  size_t total_ = 0;
};

// Per thread, as the plans and buffers are.
KeptFilters& Kept() {
  thread_local KeptFilters kept;
  return kept;
}

// Runs p on the caller's arrays, reordering those whose layout differs from the primitive's; a filter with a constant
// id (`filterId` > 0, the weights argument) is reordered once and kept (KeptFilters).
void Run(const Plan& p, std::initializer_list<const float*> inputs, float* output, int64_t filterId = 0) {
  thread_local dnnl::stream stream(Engine());
  // Inputs, output, scratchpad.
  thread_local Buffer buffers[5];
  const dnnl::engine& e = Engine();
  std::unordered_map<int, memory> args;
  size_t i = 0;
  for (const float* data : inputs) {
    const Tensor& t = p.inputs[i];
    memory user(t.user, e, const_cast<float*>(data));
    if (t.user == t.own) {
      args.emplace(t.arg, user);
    } else if (filterId > 0 && t.arg == DNNL_ARG_WEIGHTS) {
      args.emplace(t.arg, memory(t.own, e, Kept().Get(filterId, t, data, stream)));
    } else {
      memory own(t.own, e, buffers[i].Get(t.own.get_size()));
      t.reorder.execute(stream, user, own);
      args.emplace(t.arg, own);
    }
    i++;
  }
  const Tensor& o = p.output;
  memory user(o.user, e, output);
  memory own = o.user == o.own ? user : memory(o.own, e, buffers[3].Get(o.own.get_size()));
  args.emplace(o.arg, own);
  if (p.scratchpad.get_size() > 0) {
    args.emplace(DNNL_ARG_SCRATCHPAD, memory(p.scratchpad, e, buffers[4].Get(p.scratchpad.get_size())));
  }
  p.primitive.execute(stream, args);
  if (o.user != o.own) o.reorder.execute(stream, own, user);
  stream.wait();
}

}  // namespace

std::string Version() {
  const dnnl_version_t* v = dnnl_version();
  return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
}

void SetThreads(int n) { requestedThreads.store(n); }

bool MatMul(bool transA, bool transB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
            int64_t ldb, bool accumulate, float* C, int64_t ldc) {
  const Plan* p = CachedPlan({1, transA, transB, M, N, K, lda, ldb, ldc, accumulate},
                             [&] { return MakeMatMulPlan(transA, transB, M, N, K, lda, ldb, ldc, accumulate); });
  if (p != nullptr) Run(*p, {A, B}, C);
  return p != nullptr;
}

void ForgetFilter(int64_t id) { Kept().Forget(id); }

bool MatMulAvailable() {
  static const bool available = MakeMatMulPlan(false, false, 8, 8, 8, 8, 8, 8, false) != nullptr;
  return available;
}

bool Conv2DForward(const ConvGeometry& g, const float* x, const float* w, int64_t filterId, const float* bias,
                   float* y) {
  if (SmallMaps(g) && g.KH * g.KW == 1) return false;
  const Plan* p = FindPlan(g, bias != nullptr ? Direction::kForwardBias : Direction::kForward);
  if (p == nullptr) return false;
  if (bias != nullptr) {
    Run(*p, {x, w, bias}, y, filterId);
  } else {
    Run(*p, {x, w}, y, filterId);
  }
  return true;
}

namespace {

// Whether FlippedForward takes g: stride 1, 2-15 input channels (see Conv2DBackpropInput), a filter larger than 1x1
// (a 1x1 one's input gradient is im2col's single product, no copies), and no more leading padding than the filter
// reaches (the flipped convolution would need negative padding).
bool FlipsToForward(const ConvGeometry& g) {
  return g.Ci > 1 && g.sh == 1 && g.sw == 1 && g.KH * g.KW > 1 && g.top <= (g.KH - 1) * g.dh &&
         g.left <= (g.KW - 1) * g.dw;
}

// dx for a stride-1 convolution as conv(dy, w') with w'[kh, kw, co, ci] = w[KH-1-kh, KW-1-kw, ci, co] and the padding
// that lines each dy row up with the input rows it came from.
bool FlippedForward(const ConvGeometry& g, const float* dy, const float* w, float* dx) {
  const ConvGeometry f{g.B,  g.OH, g.OW, g.Co, g.H,  g.W,  g.Ci, g.KH, g.KW, 1, 1, g.dh, g.dw,
                       (g.KH - 1) * g.dh - g.top, (g.KW - 1) * g.dw - g.left};
  thread_local std::vector<float> flipped;
  flipped.resize(g.KH * g.KW * g.Co * g.Ci);
  for (int64_t kh = 0; kh < g.KH; kh++) {
    for (int64_t kw = 0; kw < g.KW; kw++) {
      const float* src = w + ((g.KH - 1 - kh) * g.KW + (g.KW - 1 - kw)) * g.Ci * g.Co;
      float* dst = flipped.data() + (kh * g.KW + kw) * g.Co * g.Ci;
      for (int64_t ci = 0; ci < g.Ci; ci++) {
        for (int64_t co = 0; co < g.Co; co++) dst[co * g.Ci + ci] = src[ci * g.Co + co];
      }
    }
  }
  return Conv2DForward(f, dy, flipped.data(), 0, nullptr, dx);
}

}  // namespace

bool Conv2DBackpropFilter(const ConvGeometry& g, const float* x, const float* dy, float* dw) {
  if (SmallMaps(g)) return false;
  const Plan* p = FindPlan(g, Direction::kFilter);
  if (p != nullptr) Run(*p, {x, dy}, dw);
  return p != nullptr;
}

bool Conv2DBackpropInput(const ConvGeometry& g, const float* dy, const float* w, float* dx) {
  // oneDNN 2.6's backward-data kernels pad the input channels to 16: on a stem's 1-3 channels im2col ran 2-7x faster.
  // With stride 1 the input gradient is a forward convolution of dy with the filter flipped and its channels swapped,
  // which ran 1.5x faster than im2col on 8 channels (the small FER nets' second layers); with one channel that forward
  // convolution has one output channel, which oneDNN runs slowly (1.2-3.6x slower than im2col).
  if (g.Ci < 16) return FlipsToForward(g) && FlippedForward(g, dy, w, dx);
  if (InputGradientOnIm2col(g)) return false;
  const Plan* p = FindPlan(g, Direction::kInput);
  if (p != nullptr) Run(*p, {dy, w}, dx);
  return p != nullptr;
}

}  // namespace onednn
}  // namespace affect
