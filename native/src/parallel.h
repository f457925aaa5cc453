// Splits the addon's row and elementwise kernels over its threads with OpenMP, the runtime oneDNN also runs on, so one
// pool serves both. Work below a grain per thread stays on the calling thread: a parallel region costs microseconds.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>

namespace affect {

// The thread count every later kernel may use (setThreads in addon.cc).
inline std::atomic<int> kernelThreads{1};

// How many parts `work` units split into: one per thread, each at least `grain` units.
inline size_t Parts(size_t work, size_t grain) {
  const size_t threads = size_t(std::max(1, kernelThreads.load()));
  return std::max<size_t>(1, std::min(threads, work / std::max<size_t>(grain, 1)));
}

// f(i) for every part i < parts, on parts threads at once.
template <typename F>
void ForParts(size_t parts, F f) {
  if (parts == 0) return;
  if (parts == 1) {
    f(size_t(0));
    return;
  }
#pragma omp parallel for num_threads(int(parts)) schedule(static, 1)
  for (size_t i = 0; i < parts; i++) f(i);
}

// f(begin, end) over [0, n) in contiguous ranges, each at least `grain` long (but the only one).
template <typename F>
void ForRanges(size_t n, size_t grain, F f) {
  const size_t parts = Parts(n, grain);
  ForParts(parts, [&](size_t i) { f(n * i / parts, n * (i + 1) / parts); });
}

// Elementwise kernels: about 128 KB of floats per thread before a split pays.
constexpr size_t kElementGrain = 32768;

// Rows (images, output rows) of `cols` floats each per thread before a split pays.
inline size_t RowGrain(size_t cols) { return std::max<size_t>(1, kElementGrain / std::max<size_t>(cols, 1)); }

}  // namespace affect
