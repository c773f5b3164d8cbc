#include "parallel.h"

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace mlx_sched::cpu {

namespace {

class Pool {
 public:
  explicit Pool(int nworkers) {
    for (int i = 0; i < nworkers; ++i) {
      std::thread([this] { work(); }).detach();
    }
    nthreads_ = nworkers + 1;
  }

  int nthreads() const { return nthreads_; }

  void run(int64_t ntasks, const std::function<void(int64_t)>& fn) {
    std::unique_lock<std::mutex> section(section_, std::try_to_lock);
    if (!section.owns_lock() || nthreads_ == 1 || ntasks == 1) {
      for (int64_t t = 0; t < ntasks; ++t) fn(t);
      return;
    }
    {
      std::lock_guard<std::mutex> lk(m_);
      fn_ = &fn;
      ntasks_ = ntasks;
      next_.store(0);
      pending_ = nthreads_ - 1;
      ++generation_;
    }
    cv_.notify_all();
    drain();
    std::unique_lock<std::mutex> lk(m_);
    done_.wait(lk, [this] { return pending_ == 0; });
    fn_ = nullptr;
  }

 private:
  void drain() {
    for (int64_t t = next_.fetch_add(1); t < ntasks_; t = next_.fetch_add(1)) (*fn_)(t);
  }

  void work() {
    uint64_t seen = 0;
    while (true) {
      {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return generation_ != seen; });
        seen = generation_;
      }
      drain();
      std::lock_guard<std::mutex> lk(m_);
      if (--pending_ == 0) done_.notify_one();
    }
  }

  int nthreads_;
  std::mutex section_;  // one parallel section at a time
  std::mutex m_;
  std::condition_variable cv_, done_;
  const std::function<void(int64_t)>* fn_ = nullptr;
  std::atomic<int64_t> next_{0};
  int64_t ntasks_ = 0;
  int pending_ = 0;
  uint64_t generation_ = 0;
};

Pool* g_pool = nullptr;
std::once_flag g_atfork;

Pool& pool() {
  // Never destroyed: workers may still wait on it while the process exits.
  static std::mutex init;
  std::lock_guard<std::mutex> lk(init);
  if (g_pool == nullptr) {
    std::call_once(g_atfork, [] {
      // A forked child has none of the workers: give it a fresh pool.
      pthread_atfork(nullptr, nullptr, [] { g_pool = nullptr; });
    });
    int n = static_cast<int>(std::thread::hardware_concurrency());
    if (const char* env = std::getenv("MLX_SCHED_NUM_THREADS")) n = std::atoi(env);
    g_pool = new Pool(n > 1 ? n - 1 : 0);
  }
  return *g_pool;
}

}  // namespace

void parallel_for(int64_t ntasks, const std::function<void(int64_t)>& fn) {
  if (ntasks <= 0) return;
  pool().run(ntasks, fn);
}

int num_threads() { return pool().nthreads(); }

}  // namespace mlx_sched::cpu
