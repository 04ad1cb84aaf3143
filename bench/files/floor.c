// The syscall floor of verifying a tree of small files: what any tool that hashes every file
// must at least do per file, without hashing or comparing anything. Walks `root` with as many
// threads as asked (each takes whole top-level subtrees, round robin) and, for every regular
// file, openat relative to its directory, fstat, one pread, close: 4 syscalls per file, 1 to 2
// fewer than readygate or sha256sum make. Prints files and seconds.
//
//   cc -O2 -pthread -o floor floor.c && ./floor DIR 2
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char** g_tops;
static int g_top_count;
static int g_threads;
static int g_root;

static long
walk(int dir)
{
  long files = 0;
  DIR* d = fdopendir(dir);
  if (d == NULL) {
    close(dir);
    return 0;
  }
  char buffer[65536];
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
      continue;
    }
    if (e->d_type == DT_DIR) {
      int child = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child >= 0) {
        files += walk(child);
      }
    } else if (e->d_type == DT_REG) {
      int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0) {
        struct stat st;
        fstat(fd, &st);
        if (pread(fd, buffer, sizeof buffer, 0) >= 0) {
          ++files;
        }
        close(fd);
      }
    }
  }
  closedir(d);
  return files;
}

static void*
work(void* arg)
{
  long index = (long)arg, files = 0;
  for (int i = (int)index; i < g_top_count; i += g_threads) {
    int dir = openat(g_root, g_tops[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir >= 0) {
      files += walk(dir);
    }
  }
  return (void*)files;
}

int
main(int argc, char** argv)
{
  if (argc != 3) {
    fprintf(stderr, "usage: floor DIR THREADS\n");
    return 64;
  }
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  g_threads = atoi(argv[2]);
  g_root = open(argv[1], O_RDONLY | O_DIRECTORY);
  // Top-level subtrees, one level below the root's single directories (vendor/pNNNN), so that
  // threads share the work evenly.
  DIR* d = opendir(argv[1]);
  struct dirent* e;
  g_tops = calloc(1 << 20, sizeof *g_tops);
  while (d != NULL && (e = readdir(d)) != NULL) {
    if (e->d_type != DT_DIR || e->d_name[0] == '.') {
      continue;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
    DIR* sub = opendir(path);
    struct dirent* f;
    while (sub != NULL && (f = readdir(sub)) != NULL) {
      if (f->d_type == DT_DIR && f->d_name[0] != '.') {
        char* name = malloc(strlen(e->d_name) + strlen(f->d_name) + 2);
        sprintf(name, "%s/%s", e->d_name, f->d_name);
        g_tops[g_top_count++] = name;
      }
    }
    if (sub != NULL) {
      closedir(sub);
    }
  }
  pthread_t threads[64];
  long files = 0;
  for (long i = 0; i < g_threads && i < 64; ++i) {
    pthread_create(&threads[i], NULL, work, (void*)i);
  }
  for (int i = 0; i < g_threads && i < 64; ++i) {
    void* count;
    pthread_join(threads[i], &count);
    files += (long)count;
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  printf("%ld files, %.2f s\n",
         files,
         (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9);
  return 0;
}
