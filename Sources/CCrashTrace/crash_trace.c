#define _GNU_SOURCE
#include "crash_trace.h"

#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

// Prepared once, read by the handler: static storage, since a handler must not allocate.
static char symbolizer_path[1024];
static char log_file[4096];
static char executable[4096];
static unsigned long load_base, range_start, range_end;
static int prepared;

static int find_executable(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  (void)data;
  // The first object is the executable itself.
  load_base = info->dlpi_addr;
  range_start = ~0UL;
  range_end = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD) continue;
    unsigned long start = info->dlpi_addr + ph->p_vaddr, end = start + ph->p_memsz;
    if (start < range_start) range_start = start;
    if (end > range_end) range_end = end;
  }
  return 1;
}

/// Creates the folders above `path` (mkdir is async-signal-safe): the log's folder is made
/// only when there is a crash to write, so that a run leaves nothing behind otherwise.
static void make_parents(const char *path) {
  static char buffer[4096];
  size_t n = strlen(path);
  if (n >= sizeof buffer) return;
  memcpy(buffer, path, n + 1);
  for (size_t i = 1; i < n; i++) {
    if (buffer[i] != '/') continue;
    buffer[i] = 0;
    mkdir(buffer, 0755);
    buffer[i] = '/';
  }
}

int crash_trace_prepare(const char *symbolizer, const char *log_path) {
  prepared = 0;
  if (!symbolizer || !*symbolizer || !log_path || !*log_path) return -1;
  if (strlen(symbolizer) >= sizeof symbolizer_path || strlen(log_path) >= sizeof log_file) return -1;
  strcpy(symbolizer_path, symbolizer);
  strcpy(log_file, log_path);
  ssize_t n = readlink("/proc/self/exe", executable, sizeof executable - 1);
  if (n <= 0) return -1;
  executable[n] = 0;
  dl_iterate_phdr(find_executable, NULL);
  void *frames[4];
  backtrace(frames, 4);
  prepared = 1;
  return 0;
}

static void put(int fd, const char *s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      return;
    }
    s += w;
    n -= (size_t)w;
  }
}

static void hex(unsigned long v, char *out) {
  char digits[17];
  int n = 0;
  do {
    digits[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v && n < 16);
  out[0] = '0';
  out[1] = 'x';
  for (int i = 0; i < n; i++) out[2 + i] = digits[n - 1 - i];
  out[2 + n] = 0;
}

/// The first line of `text` that starts with `prefix`, without the prefix.
static void first_line_after(const char *text, size_t length, const char *prefix, char *out,
                             size_t capacity) {
  out[0] = 0;
  size_t p = strlen(prefix), start = 0;
  while (start < length) {
    size_t end = start;
    while (end < length && text[end] != '\n') end++;
    if (end - start > p && memcmp(text + start, prefix, p) == 0) {
      size_t n = end - start - p;
      if (n >= capacity) n = capacity - 1;
      memcpy(out, text + start + p, n);
      out[n] = 0;
      return;
    }
    start = end + 1;
  }
}

/// The first line of `text` naming a `.md` file: "path.md:LINE" (the column dropped).
static void first_md_location(const char *text, size_t length, char *location, size_t capacity) {
  location[0] = 0;
  size_t start = 0;
  while (start < length) {
    size_t end = start;
    while (end < length && text[end] != '\n') end++;
    // A symbolizer line of a frame's place: "/path/file.md:115:7" (llvm-symbolizer) or
    // "/path/file.md:115" (addr2line), possibly followed by " (discriminator N)".
    for (size_t i = start; i + 4 <= end; i++) {
      if (memcmp(text + i, ".md:", 4) != 0) continue;
      size_t j = i + 4, digits = j;
      while (j < end && text[j] >= '0' && text[j] <= '9') j++;
      if (j == digits || text[digits] == '0') break;
      size_t n = j - start;
      if (n >= capacity) return;
      memcpy(location, text + start, n);
      location[n] = 0;
      return;
    }
    start = end + 1;
  }
}

/// The address of the instruction the signal interrupted, from the handler's context.
static unsigned long interrupted_pc(void *context) {
  if (!context) return 0;
  ucontext_t *uc = (ucontext_t *)context;
#if defined(__x86_64__)
  return (unsigned long)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
  return (unsigned long)uc->uc_mcontext.pc;
#else
  (void)uc;
  return 0;
#endif
}

int crash_trace_locate(void *context, char *location, size_t capacity, char *reason,
                       size_t reason_capacity) {
  if (capacity > 0) location[0] = 0;
  if (reason_capacity > 0) reason[0] = 0;
  if (!prepared || capacity == 0 || reason_capacity == 0) return -1;
  void *frames[64];
  int count = backtrace(frames, 64);
  unsigned long fault = interrupted_pc(context);
  // The handler's own frames come first: start at the interrupted instruction, or, when it
  // is not in this executable (abort() in libc), after the first frame that is not.
  int first = 0;
  while (first < count && (unsigned long)frames[first] != fault) first++;
  if (first == count) {
    first = 0;
    while (first < count && (unsigned long)frames[first] >= range_start
           && (unsigned long)frames[first] < range_end) first++;
  }
  // Addresses of this executable, as offsets from its load address (it is position
  // independent), one before each return address so that a call's line is found, not the
  // next statement's.
  static char addresses[64][20];
  static char *argv[64 + 8];
  int argc = 0;
  int addr2line = strstr(symbolizer_path, "addr2line") != NULL;
  static char obj_arg[4096 + 8];
  argv[argc++] = symbolizer_path;
  if (addr2line) {
    argv[argc++] = "-f";
    argv[argc++] = "-C";
    argv[argc++] = "-i";
    argv[argc++] = "-e";
    argv[argc++] = executable;
  } else {
    strcpy(obj_arg, "--obj=");
    strncat(obj_arg, executable, sizeof obj_arg - 8);
    argv[argc++] = obj_arg;
    argv[argc++] = "--demangle";
  }
  int used = 0;
  for (int i = first; i < count && used < 64; i++) {
    unsigned long pc = (unsigned long)frames[i];
    if (pc < range_start || pc >= range_end) continue;
    // The interrupted instruction is itself the place; the others are return addresses.
    hex(pc - load_base - (pc == fault ? 0 : 1), addresses[used]);
    argv[argc++] = addresses[used++];
  }
  argv[argc] = NULL;

  make_parents(log_file);
  int fd = open(log_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  put(fd, "Backtrace of the crashing thread, frames of ");
  put(fd, executable);
  put(fd, " (offsets from its load address), symbolized by ");
  put(fd, symbolizer_path);
  put(fd, ":\n\n");
  if (used == 0) {
    put(fd, "(no frame of the executable)\n");
    close(fd);
    return 0;
  }
  pid_t child = fork();
  if (child == 0) {
    int devnull = open("/dev/null", O_RDWR);
    dup2(fd, 1);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 2);
    }
    execv(symbolizer_path, argv);
    _exit(127);
  }
  int status = 0;
  if (child > 0) {
    // At most 20 s: symbolizing a large binary takes a second or two.
    struct timespec pause = {0, 50 * 1000 * 1000};
    int waited = 0;
    while (waitpid(child, &status, WNOHANG) == 0) {
      if (++waited > 400) {
        kill(child, SIGKILL);
        waitpid(child, &status, 0);
        break;
      }
      nanosleep(&pause, NULL);
    }
  }
  close(fd);

  static char text[1 << 16];
  fd = open(log_file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t length = 0;
  for (;;) {
    ssize_t r = read(fd, text + length, sizeof text - length);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    length += (size_t)r;
    if (length == sizeof text) break;
  }
  close(fd);
  first_md_location(text, length, location, capacity);
  // In optimised code a runtime check's message survives only as the name of an inlined
  // frame at the trap: "Swift runtime failure: Index out of range".
  first_line_after(text, length, "Swift runtime failure: ", reason, reason_capacity);
  return 0;
}
