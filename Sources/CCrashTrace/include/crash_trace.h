#ifndef CRASH_TRACE_H
#define CRASH_TRACE_H

#include <stddef.h>

/// Prepares `crash_trace_locate` outside any signal handler: where the symbolizer is
/// (llvm-symbolizer or addr2line; NULL or "" to have none), where to write the backtrace,
/// and the executable's path and address range. Returns 0 when a trace can be made.
int crash_trace_prepare(const char *symbolizer, const char *log_path);

/// From a signal handler given `context` (its third argument, a ucontext_t): takes the
/// crashing thread's backtrace from the interrupted instruction on, writes it symbolized (file
/// and line of every frame of this executable, inlined frames included) to the log file
/// prepared above, and copies into `location` the first frame whose file ends in `.md`
/// ("/path/Chapters/7.6-resnet.md:115"), or "" when none is found. Only async-signal-safe
/// calls, plus glibc's backtrace(), which `crash_trace_prepare` has already called once
/// (its first call loads the unwinder). Returns 0 when the log was written.
/// `reason` receives the runtime check that failed ("Index out of range"), which optimised
/// code keeps only as the name of an inlined frame at the trap; "" when there is none (a
/// `fatalError` prints its own message before it traps).
int crash_trace_locate(void *context, char *location, size_t capacity, char *reason,
                       size_t reason_capacity);

#endif
