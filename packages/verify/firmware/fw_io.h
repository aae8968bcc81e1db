/*
 * fw_io.h - what the @tinyblocks/verify firmware mains share: semihosting (SYS_OPEN, SYS_WRITE,
 * SYS_CLOSE, SYS_EXIT_EXTENDED), the empty marker function the instruction-counting plugin
 * watches, and small output helpers. It defines the external functions fw_exit and tb_mark:
 * include it from exactly one file of a firmware (its main).
 */
#ifndef FW_IO_H
#define FW_IO_H

#include <stdint.h>
#include <string.h>

void fw_exit(int status);
void tb_mark(void);

/* ---- semihosting ---- */
static inline int sh_call(int op, void *arg) {
  register int r0 __asm__("r0") = op;
  register void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void fw_exit(int status) {
  uint32_t block[2];
  block[0] = 0x20026u; /* ADP_Stopped_ApplicationExit */
  block[1] = (uint32_t)status;
  sh_call(0x20, block); /* SYS_EXIT_EXTENDED */
  for (;;) {
  }
}

static inline int sh_open(const char *path) {
  uint32_t block[3];
  block[0] = (uint32_t)(uintptr_t)path;
  block[1] = 5u; /* "wb" */
  block[2] = (uint32_t)strlen(path);
  return sh_call(0x01, block);
}

static inline void sh_write(int fd, const void *p, uint32_t n) {
  uint32_t block[3];
  if (n == 0u) return;
  block[0] = (uint32_t)fd;
  block[1] = (uint32_t)(uintptr_t)p;
  block[2] = n;
  if (sh_call(0x05, block) != 0) fw_exit(0x71);
}

static inline void sh_close(int fd) {
  uint32_t block[1];
  block[0] = (uint32_t)fd;
  sh_call(0x02, block);
}

/* ---- marker: an empty function the plugin watches (its address comes from nm) ---- */
__attribute__((noinline, used)) void tb_mark(void) {
  __asm__ volatile("" ::: "memory");
}

static inline uint32_t put_dec(char *p, uint32_t v) {
  char tmp[12];
  uint32_t n = 0, k = 0;
  do {
    tmp[n++] = (char)('0' + (v % 10u));
    v /= 10u;
  } while (v != 0u);
  while (n > 0u) p[k++] = tmp[--n];
  return k;
}

static inline uint32_t current_sp(void) {
  uint32_t sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  return sp;
}

#endif /* FW_IO_H */
