/*
 * The thread pool where threads cannot be had, and DITCACHE_THREADS. Each case runs in a child
 * process of its own (the pool is created once per process, on first use): the test re-executes
 * itself with the case's environment. Where no thread may start, an RLIMIT_STACK so large that
 * the C library cannot map any thread stack makes every pthread_create fail. Where only some may
 * start, thread stacks of 256 MiB and an address-space limit with room for two of them make the
 * third fail while two run (the case a pool or a benchmark must unwind without destroying running
 * threads). Nothing may abort or hang (each child has an alarm), and dc_get_num_threads() must
 * tell the truth: it is compared with the threads the process really has.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ditcache.h"

static int g_failures;

#define CHECK(cond)                                                                     \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      ++g_failures;                                                                     \
      fprintf(stderr, "line %d: check failed: %s (last error: %s)\n", __LINE__, #cond,  \
              dc_last_error());                                                         \
    }                                                                                   \
  } while (0)

/* A gemm of 2 * 512 * 256 * 64 flops: enough work to be split over 4 threads when the pool has
 * them (a part takes at least 4 MFLOP). */
static void gemm_runs(void) {
  enum { M = 512, K = 64, N = 256 };
  static float a[M * K], w[N * K], out[M * N];
  const int64_t sa[2] = {M, K}, sw[2] = {N, K}, so[2] = {M, N};
  dc_tensor *ta = NULL, *tw = NULL, *to = NULL;
  int i;
  for (i = 0; i < M * K; ++i) a[i] = 1.0f;
  for (i = 0; i < N * K; ++i) w[i] = 0.5f;
  CHECK(dc_tensor_wrap(DC_F32, 2, sa, NULL, a, sizeof a, NULL, NULL, &ta) == DC_OK);
  CHECK(dc_tensor_wrap(DC_F32, 2, sw, NULL, w, sizeof w, NULL, NULL, &tw) == DC_OK);
  CHECK(dc_tensor_wrap(DC_F32, 2, so, NULL, out, sizeof out, NULL, NULL, &to) == DC_OK);
  CHECK(dc_gemm(ta, tw, to, NULL) == DC_OK);
  CHECK(out[0] == 32.0f && out[M * N - 1] == 32.0f);
  dc_tensor_release(ta);
  dc_tensor_release(tw);
  dc_tensor_release(to);
}

/* Threads of this process, from /proc/self/task (the caller's included). */
static int live_threads(void) {
  DIR* dir = opendir("/proc/self/task");
  struct dirent* e;
  int n = 0;
  if (!dir) return -1;
  while ((e = readdir(dir)) != NULL) n += e->d_name[0] != '.';
  closedir(dir);
  return n;
}

/* ASan maps its own memory as it goes, which an address-space limit would starve: the case of
 * some threads is left to the build without it. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#ifndef UNDER_ASAN
/* Room for `stacks` more thread stacks of `stack_bytes` in this process's address space, and not
 * for one more. */
static int limit_address_space(double stacks, unsigned long stack_bytes) {
  unsigned long pages = 0;
  struct rlimit lim;
  FILE* f = fopen("/proc/self/statm", "r");
  if (!f) return -1;
  if (fscanf(f, "%lu", &pages) != 1) pages = 0;
  fclose(f);
  if (!pages) return -1;
  lim.rlim_cur = lim.rlim_max =
      (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (rlim_t)(stacks * (double)stack_bytes);
  return setrlimit(RLIMIT_AS, &lim);
}
#endif

#define SOME_STACK_BYTES (256ul << 20)

/* ----------------------------------------------------------------------- the child's cases */

static int child(const char* which) {
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  double gflops = 0;
  alarm(60); /* a hang becomes a failure */
  if (strcmp(which, "no-threads") == 0) {
    /* DITCACHE_THREADS=3 asks for threads none of which can start: the pool runs on the
     * caller's thread and says so. */
    CHECK(dc_get_num_threads() == 1);
    gemm_runs();
    CHECK(dc_set_num_threads(4) == DC_ERR_UNAVAILABLE);
    CHECK(strstr(dc_last_error(), "could start only 1 of 4 threads") != NULL);
    CHECK(dc_get_num_threads() == 1);
    gemm_runs(); /* the pool does not wait for workers it does not have */
    CHECK(dc_set_num_threads(1) == DC_OK);
    CHECK(dc_cpu_fma_peak(3, 0.01, &gflops) == DC_ERR_UNAVAILABLE);
    CHECK(strstr(dc_last_error(), "could start only 1 of 3 threads") != NULL);
    CHECK(dc_cpu_fma_peak(1, 0.01, &gflops) == DC_OK && gflops > 0);
  } else if (strcmp(which, "no-threads-grow") == 0) {
    /* DITCACHE_THREADS=1 needs no thread; growing the pool then starts none: the next region
     * must not wait for the workers it asked for. */
    CHECK(dc_get_num_threads() == 1);
    CHECK(dc_set_num_threads(4) == DC_ERR_UNAVAILABLE);
    CHECK(dc_get_num_threads() == 1 && live_threads() == 1);
    gemm_runs();
  } else if (strcmp(which, "no-threads-backend") == 0) {
    /* The backend query is the first call: it creates the pool (its name counts the threads). */
    dc_backend_info info = dc_backend_info_init();
    CHECK(dc_backend_get(0, &info) == DC_OK);
    CHECK(strstr(info.name, " 1 threads)") != NULL);
    CHECK(dc_get_num_threads() == 1 && live_threads() == 1);
  } else if (strcmp(which, "some-threads") == 0) {
#ifndef UNDER_ASAN
    int n;
    CHECK(limit_address_space(2.5, SOME_STACK_BYTES) == 0);
    /* DITCACHE_THREADS=8: two workers start, the third cannot. */
    n = dc_get_num_threads();
    CHECK(n > 1 && n < 8);
    CHECK(n == live_threads());
    gemm_runs();
    CHECK(dc_set_num_threads(1) == DC_OK);
    CHECK(dc_get_num_threads() == 1 && live_threads() == 1);
    /* The benchmark starts its own threads: it too stops at the third, joins the two it has. */
    CHECK(dc_cpu_fma_peak(8, 0.01, &gflops) == DC_ERR_UNAVAILABLE);
    CHECK(strstr(dc_last_error(), "could start only") != NULL);
    CHECK(live_threads() == 1);
    CHECK(dc_set_num_threads(8) == DC_ERR_UNAVAILABLE);
    CHECK(strstr(dc_last_error(), "could start only") != NULL);
    n = dc_get_num_threads();
    CHECK(n > 1 && n < 8);
    CHECK(n == live_threads());
    gemm_runs(); /* the pool does not wait for the workers it could not start */
#endif
  } else if (strcmp(which, "env-3") == 0) {
    CHECK(dc_get_num_threads() == 3);
    gemm_runs();
  } else { /* DITCACHE_THREADS out of bounds or not a number: the hardware's count */
    CHECK(dc_get_num_threads() == (cpus > 1024 ? 1024 : (int)cpus));
    gemm_runs();
  }
  return g_failures ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ----------------------------------------------------------------------- the parent */

/* stack_bytes: the RLIMIT_STACK of the child, from which the C library takes the default size
 * of thread stacks (read once, at start-up); 0 leaves it as it is. */
static void run_case(const char* self, const char* which, const char* threads, rlim_t stack_bytes) {
  pid_t pid = fork();
  int status = 0;
  if (pid == 0) {
    if (stack_bytes) {
      struct rlimit lim;
      lim.rlim_cur = lim.rlim_max = stack_bytes;
      if (setrlimit(RLIMIT_STACK, &lim) != 0) _exit(3);
    }
    setenv("DITCACHE_THREADS", threads, 1);
    execl(self, self, which, (char*)NULL);
    _exit(4);
  }
  if (pid < 0 || waitpid(pid, &status, 0) != pid) {
    ++g_failures;
    fprintf(stderr, "%s: cannot run the child process\n", which);
    return;
  }
  if (WIFSIGNALED(status)) {
    ++g_failures;
    fprintf(stderr, "%s (DITCACHE_THREADS=%s): killed by signal %d%s\n", which, threads,
            WTERMSIG(status), WTERMSIG(status) == SIGALRM ? " (a hang)" : "");
  } else if (WEXITSTATUS(status) != 0) {
    ++g_failures;
    fprintf(stderr, "%s (DITCACHE_THREADS=%s): exit status %d\n", which, threads,
            WEXITSTATUS(status));
  }
}

int main(int argc, char** argv) {
  if (argc > 1) return child(argv[1]);
  run_case(argv[0], "no-threads", "3", (rlim_t)1 << 40); /* 1 TiB stacks cannot be mapped */
  run_case(argv[0], "no-threads-grow", "1", (rlim_t)1 << 40);
  run_case(argv[0], "no-threads-backend", "3", (rlim_t)1 << 40);
  run_case(argv[0], "some-threads", "8", SOME_STACK_BYTES);
  run_case(argv[0], "env-3", "3", 0);
  run_case(argv[0], "env-ignored", "100000", 0);
  run_case(argv[0], "env-ignored", "99999999999999999999", 0);
  run_case(argv[0], "env-ignored", "0", 0);
  run_case(argv[0], "env-ignored", "-2", 0);
  run_case(argv[0], "env-ignored", "4x", 0);
  printf("threads_test: 10 cases, %d failed\n", g_failures);
  return g_failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
