// A pool of worker threads for the engine's parallel regions, in place of libdispatch's
// `concurrentPerform`. A region of a small network's training step lasts tens of
// microseconds, and consecutive regions are a few microseconds apart; libdispatch's
// workers go to sleep in between, so every region paid a futex wake-up on the caller's
// side and a context switch on the worker's. Here an idle worker spins on its own slot
// for a while (`spin_ns`) before it sleeps, so a region's start costs one store.
//
// Each worker has a slot that only the submitting thread writes while the worker is idle:
// the submitter fills in the job, then publishes it by bumping the slot's generation; the
// worker runs its parts and reports the generation back in `done`. The submitter waits for
// every worker it gave parts to, so a slot is never rewritten while its worker reads it.
#define _GNU_SOURCE
#include "worker_pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

typedef struct {
  // Written by the submitter, read by the worker after it sees a new generation.
  worker_pool_task task;
  void *context;
  long first, stride, parts;
  _Atomic unsigned long generation;  // bumped by the submitter to start a job
  _Atomic unsigned long done;        // set to the generation by the worker when finished
  _Atomic int sleeping;              // the worker is (about to be) waiting on `wake`
  _Atomic int awaited;               // the submitter is (about to be) waiting on `finished`
  _Atomic int exiting;
  pthread_mutex_t lock;
  pthread_cond_t wake, finished;
  pthread_t thread;
  // Its own cache lines: the worker spins on `generation`, and neighbours' stores must
  // not pull the line away from it.
  char padding[64];
} slot_t;

static pthread_mutex_t submit_lock = PTHREAD_MUTEX_INITIALIZER;
static slot_t *slots;         // `worker_count` slots; only changed under `submit_lock`
static int worker_count;
// How long an idle worker spins for the next region before it sleeps, and the submitter for
// a worker's part before it sleeps: long enough to span the serial work between a step's
// regions (BENCHMARKS.md, Session 25, sweeps it).
static const long spin_ns = 200000;

static long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void *worker_main(void *argument) {
  slot_t *slot = argument;
  unsigned long seen = 0;
  for (;;) {
    unsigned long generation = atomic_load_explicit(&slot->generation, memory_order_acquire);
    if (generation == seen) {
      long deadline = now_ns() + spin_ns;
      for (int i = 0;; i++) {
        cpu_relax();
        generation = atomic_load_explicit(&slot->generation, memory_order_acquire);
        if (generation != seen) break;
        if ((i & 63) == 63 && now_ns() > deadline) break;
      }
    }
    if (generation == seen) {
      // Sleep. `sleeping` is set before the generation is checked again under the lock,
      // and the submitter bumps the generation before it reads `sleeping` (both sequentially
      // consistent): either this check sees the new job or the submitter sees the sleeper
      // and signals under the same lock, so no wake-up is lost.
      pthread_mutex_lock(&slot->lock);
      atomic_store(&slot->sleeping, 1);
      while ((generation = atomic_load(&slot->generation)) == seen) {
        pthread_cond_wait(&slot->wake, &slot->lock);
      }
      atomic_store(&slot->sleeping, 0);
      pthread_mutex_unlock(&slot->lock);
    }
    seen = generation;
    if (atomic_load_explicit(&slot->exiting, memory_order_acquire)) return NULL;
    for (long p = slot->first; p < slot->parts; p += slot->stride) slot->task(slot->context, p);
    // The same handshake as the worker's sleep, the other way round.
    atomic_store(&slot->done, generation);
    if (atomic_load(&slot->awaited)) {
      pthread_mutex_lock(&slot->lock);
      pthread_cond_signal(&slot->finished);
      pthread_mutex_unlock(&slot->lock);
    }
  }
}

static void publish(slot_t *slot) {
  unsigned long next = atomic_load_explicit(&slot->generation, memory_order_relaxed) + 1;
  atomic_store(&slot->generation, next);
  if (atomic_load(&slot->sleeping)) {
    pthread_mutex_lock(&slot->lock);
    pthread_cond_signal(&slot->wake);
    pthread_mutex_unlock(&slot->lock);
  }
}

static void stop_workers(void) {
  for (int k = 0; k < worker_count; k++) {
    atomic_store_explicit(&slots[k].exiting, 1, memory_order_release);
    publish(&slots[k]);
  }
  for (int k = 0; k < worker_count; k++) {
    pthread_join(slots[k].thread, NULL);
    pthread_mutex_destroy(&slots[k].lock);
    pthread_cond_destroy(&slots[k].wake);
    pthread_cond_destroy(&slots[k].finished);
  }
  free(slots);
  slots = NULL;
  worker_count = 0;
}

// Returns 0 if the threads could not be started (the caller then runs regions its own way).
static int start_workers(int count) {
  slots = calloc((size_t)count, sizeof(slot_t));
  if (!slots) return 0;
  for (int k = 0; k < count; k++) {
    pthread_mutex_init(&slots[k].lock, NULL);
    pthread_cond_init(&slots[k].wake, NULL);
    pthread_cond_init(&slots[k].finished, NULL);
    if (pthread_create(&slots[k].thread, NULL, worker_main, &slots[k]) != 0) {
      worker_count = k;
      stop_workers();
      return 0;
    }
    worker_count = k + 1;
  }
  return 1;
}

int worker_pool_run(int workers, long parts, worker_pool_task task, void *context) {
  if (pthread_mutex_trylock(&submit_lock) != 0) return 0;
  if (workers != worker_count) {
    if (worker_count > 0) stop_workers();
    if (workers > 0 && !start_workers(workers)) {
      pthread_mutex_unlock(&submit_lock);
      return 0;
    }
  }
  long threads = parts < (long)workers + 1 ? parts : (long)workers + 1;
  for (long k = 0; k + 1 < threads; k++) {
    slot_t *slot = &slots[k];
    slot->task = task;
    slot->context = context;
    slot->first = k + 1;
    slot->stride = threads;
    slot->parts = parts;
    publish(slot);
  }
  for (long p = 0; p < parts; p += threads) task(context, p);
  for (long k = 0; k + 1 < threads; k++) {
    slot_t *slot = &slots[k];
    unsigned long generation = atomic_load_explicit(&slot->generation, memory_order_relaxed);
    if (atomic_load_explicit(&slot->done, memory_order_acquire) == generation) continue;
    // Parts are split evenly, so the worker's usually ends within microseconds of ours;
    // past the spin time (a worker that was asleep or preempted, a long uneven part),
    // sleep rather than hold the core.
    long deadline = now_ns() + spin_ns;
    int finished = 0;
    for (int i = 0; !finished; i++) {
      cpu_relax();
      finished = atomic_load_explicit(&slot->done, memory_order_acquire) == generation;
      if ((i & 63) == 63 && now_ns() > deadline) break;
    }
    if (!finished) {
      pthread_mutex_lock(&slot->lock);
      atomic_store(&slot->awaited, 1);
      while (atomic_load(&slot->done) != generation) pthread_cond_wait(&slot->finished, &slot->lock);
      atomic_store(&slot->awaited, 0);
      pthread_mutex_unlock(&slot->lock);
    }
  }
  pthread_mutex_unlock(&submit_lock);
  return 1;
}
