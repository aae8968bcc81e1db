/*
 * fw_main.c - @tinyblocks/verify Cortex-M firmware (not part of the export).
 *
 * fw_config.h (generated per export) maps FW_* to the model's names; fw_frames.c holds the test
 * vectors in flash. Two phases, each over every frame in full mode (exits 0) and exits mode:
 *  1. counting: tb_mark() before and after each inference and after every node (TB_TRACE), so the
 *     instruction-counting plugin sees per-inference and per-node boundaries; the node order is
 *     written to the text file FW_COUNT_PATH, then the stack high-water marks.
 *  2. verification: every node's output and the result, in the binary format of the host verify
 *     harness (harness.ts), to FW_OUT_PATH.
 * Host files are written through semihosting (SYS_OPEN/SYS_WRITE); exit status via SYS_EXIT_EXTENDED.
 */
#include <stdint.h>
#include <string.h>
#include "fw_config.h"
#include "fw_io.h"

extern const int8_t fw_frames[FW_NUM_FRAMES][FW_INPUT_SIZE];
extern uint32_t __bss_end;
extern uint32_t __stack_top;
void fw_trace(int node, const int8_t *data, uint32_t bytes);

/* ---- output helpers ---- */
static int out_fd;
static unsigned char rec[32];

static void put_u32(unsigned char *b, uint32_t v) {
  b[0] = (unsigned char)(v & 0xffu);
  b[1] = (unsigned char)((v >> 8) & 0xffu);
  b[2] = (unsigned char)((v >> 16) & 0xffu);
  b[3] = (unsigned char)((v >> 24) & 0xffu);
}

static char line[64];
static void write_text(int fd, const char *label, uint32_t a, uint32_t b) {
  uint32_t n = (uint32_t)strlen(label);
  memcpy(line, label, n);
  line[n++] = ' ';
  n += put_dec(line + n, a);
  line[n++] = ' ';
  n += put_dec(line + n, b);
  line[n++] = '\n';
  sh_write(fd, line, n);
}

/* ---- TB_TRACE hook ---- */
static volatile int fw_phase; /* 1 counting, 2 verification */
static uint32_t trace_nodes[FW_NUM_NODES + 4];
static uint32_t n_traces;

void fw_trace(int node, const int8_t *data, uint32_t bytes) {
  if (fw_phase == 1) {
    if (n_traces < (uint32_t)(FW_NUM_NODES + 4)) trace_nodes[n_traces] = (uint32_t)node;
    n_traces++;
    tb_mark();
  } else if (fw_phase == 2) {
    rec[0] = 'T';
    put_u32(rec + 1, (uint32_t)node);
    put_u32(rec + 5, bytes);
    sh_write(out_fd, rec, 9u);
    sh_write(out_fd, data, bytes);
  }
}

static uint32_t stack_low(void) {
  const uint32_t *p = &__bss_end;
  while (p < &__stack_top && *p == 0xDEADBEEFu) p++;
  return (uint32_t)(uintptr_t)p;
}

static int8_t out[FW_OUTPUT_SIZE];

int main(void) {
  FW_OPTIONS opt;
  FW_RESULT r;
  uint32_t f, k, sp_at_run, low;
  int mode, rc, fd;

  /* phase 1: counting (the stack is freshly painted by the reset code) */
  fd = sh_open(FW_COUNT_PATH);
  if (fd < 0) return 0x70;
  fw_phase = 1;
  sp_at_run = current_sp();
  for (f = 0; f < FW_NUM_FRAMES; f++) {
    for (mode = 0; mode < 2; mode++) {
      opt.exits = mode;
      opt.concepts = 0;
      n_traces = 0;
      tb_mark();
      rc = FW_RUN_EX(fw_frames[f], out, &opt, &r);
      tb_mark();
      write_text(fd, "case", (uint32_t)mode, f);
      write_text(fd, "rc", (uint32_t)rc, n_traces);
      for (k = 0; k < n_traces && k < (uint32_t)(FW_NUM_NODES + 4); k++) write_text(fd, "node", k, trace_nodes[k]);
    }
  }
  low = stack_low();
  write_text(fd, "stack", (uint32_t)(uintptr_t)&__stack_top - low, sp_at_run - low);
  sh_close(fd);

  /* phase 2: verification records (format of the host verify harness) */
  out_fd = sh_open(FW_OUT_PATH);
  if (out_fd < 0) return 0x70;
  fw_phase = 2;
  rec[0] = 'H';
  put_u32(rec + 1, (uint32_t)FW_INPUT_SIZE);
  put_u32(rec + 5, (uint32_t)FW_OUTPUT_SIZE);
  put_u32(rec + 9, (uint32_t)FW_NUM_CONCEPTS);
  put_u32(rec + 13, (uint32_t)FW_NUM_NODES);
  sh_write(out_fd, rec, 17u);
  for (f = 0; f < FW_NUM_FRAMES; f++) {
    for (mode = 0; mode < 2; mode++) {
      rec[0] = 'C';
      rec[1] = (unsigned char)mode;
      put_u32(rec + 2, f);
      sh_write(out_fd, rec, 6u);
      opt.exits = mode;
      opt.concepts = 0;
      memset(&r, 0x5a, sizeof r);
      rc = FW_RUN_EX(fw_frames[f], out, &opt, &r);
      rec[0] = 'R';
      put_u32(rec + 1, (uint32_t)rc);
      put_u32(rec + 5, (uint32_t)r.exit_taken);
      put_u32(rec + 9, r.macs);
      sh_write(out_fd, rec, 13u);
      sh_write(out_fd, out, FW_OUTPUT_SIZE);
#if FW_NUM_CONCEPTS > 0
      sh_write(out_fd, r.concepts, FW_NUM_CONCEPTS);
#endif
    }
  }
  rec[0] = 'E';
  sh_write(out_fd, rec, 1u);
  sh_close(out_fd);
  return 0;
}
