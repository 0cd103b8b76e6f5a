#ifndef WORKER_POOL_H
#define WORKER_POOL_H

/// One part of a parallel region: `part` in 0..<parts, on whichever thread runs it.
typedef void (*worker_pool_task)(void *context, long part);

/// Runs `task(context, p)` for every p in 0..<parts and returns when all have finished.
/// With t = min(parts, workers + 1) threads, the calling thread runs parts 0, t, 2t, ...
/// and worker k parts k + 1, k + 1 + t, ...: which thread runs a part depends only on
/// `parts` and `workers`.
///
/// Returns 0 without running anything if the pool is busy with another caller's region
/// (the caller then runs the region its own way), 1 once every part has run.
/// `workers` is how many worker threads the pool should have (the engine's thread count
/// less one); a change stops the old workers and starts new ones.
int worker_pool_run(int workers, long parts, worker_pool_task task, void *context);

#endif
