/*
 * fw_main.c - @tinyblocks/verify Cortex-M firmware (not part of the export).
 *
 * fw_config.h (generated per export) maps FW_* to the model's names; fw_frames.c holds the test
 * vectors in flash. Built twice from the same model objects, as two images that QEMU runs:
 *  - the first (this file as it stands without FW_MORE_MODES, token for token what it was
 *    before the other modes were added, so full and exits count the same instructions as
 *    before: the compiler's code around the marks is part of the count) runs every frame in
 *    full mode (exits 0) and exits mode (exits 1);
 *  - the second (-DFW_MORE_MODES, its own FW_OUT_PATH and FW_COUNT_PATH) runs the other cases
 *    of the host verify harness (harness.ts): intervene for every frame (models with concepts:
 *    FW_INTERVENTIONS, exits 0), then FW_RESET and FW_STREAM over every frame in order (options
 *    NULL).
 * Each image has two phases:
 *  1. counting: tb_mark() right before and after each inference and after every node (TB_TRACE),
 *     so the instruction-counting plugin sees per-inference and per-node boundaries; the case,
 *     its rc and node order are written to the text file FW_COUNT_PATH, then the stack
 *     high-water marks (whole stack, and below the inference calls).
 *  2. verification: every node's output and the result, in the binary format of the host verify
 *     harness, to FW_OUT_PATH (mode byte: the index in MODES of harness.ts).
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

#ifndef FW_MORE_MODES

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

#else /* FW_MORE_MODES: the second image, intervene and stream */

#define FW_MODE_INTERVENE 2
#define FW_MODE_STREAM 3
#if FW_NUM_CONCEPTS > 0
#define FW_FIRST_MODE FW_MODE_INTERVENE
static const int8_t interventions[FW_NUM_CONCEPTS] = FW_INTERVENTIONS;
#else
#define FW_FIRST_MODE FW_MODE_STREAM
#endif

static uint32_t sp_at_run; /* the stack pointer at the inference calls */

/* One inference: intervene (_run_ex, exits 0, the interventions) or the next stream frame
   (options NULL, as the host harness); tb_mark right around it while counting. */
static inline __attribute__((always_inline)) int run_case(int mode, uint32_t f, FW_RESULT *r) {
  FW_OPTIONS opt;
  int rc;
  opt.exits = 0;
  opt.concepts = 0;
#if FW_NUM_CONCEPTS > 0
  opt.concepts = interventions;
#endif
  n_traces = 0;
  sp_at_run = current_sp();
  if (fw_phase != 1) {
    rc = mode == FW_MODE_STREAM ? FW_STREAM(fw_frames[f], out, 0, r) : FW_RUN_EX(fw_frames[f], out, &opt, r);
  } else if (mode == FW_MODE_STREAM) {
    tb_mark();
    rc = FW_STREAM(fw_frames[f], out, 0, r);
    tb_mark();
  } else {
    tb_mark();
    rc = FW_RUN_EX(fw_frames[f], out, &opt, r);
    tb_mark();
  }
  return rc;
}

/* Verification records: u32 fields after a tag. */
static void put_record(unsigned char tag, const uint32_t *v, uint32_t n) {
  uint32_t i;
  rec[0] = tag;
  for (i = 0; i < n; i++) put_u32(rec + 1 + 4u * i, v[i]);
  sh_write(out_fd, rec, 1u + 4u * n);
}

static const uint32_t head[4] = { (uint32_t)FW_INPUT_SIZE, (uint32_t)FW_OUTPUT_SIZE, (uint32_t)FW_NUM_CONCEPTS, (uint32_t)FW_NUM_NODES };
static uint32_t res[3];

int main(void) {
  FW_RESULT r;
  uint32_t f, k, low;
  int mode, rc;
  const int fd = sh_open(FW_COUNT_PATH);
  out_fd = sh_open(FW_OUT_PATH);
  if (fd < 0 || out_fd < 0) return 0x70;
  put_record('H', head, 4u);
  /* phase 1 counting (the stack is freshly painted by the reset code), phase 2 verification */
  for (fw_phase = 1; fw_phase <= 2; fw_phase++) {
    for (mode = FW_FIRST_MODE; mode <= FW_MODE_STREAM; mode++) {
      if (mode == FW_MODE_STREAM) FW_RESET();
      for (f = 0; f < FW_NUM_FRAMES; f++) {
        if (fw_phase == 2) {
          rec[0] = 'C';
          rec[1] = (unsigned char)mode;
          put_u32(rec + 2, f);
          sh_write(out_fd, rec, 6u);
        }
        memset(&r, 0x5a, sizeof r);
        rc = run_case(mode, f, &r);
        if (fw_phase == 1) {
          write_text(fd, "case", (uint32_t)mode, f);
          write_text(fd, "rc", (uint32_t)rc, n_traces);
          for (k = 0; k < n_traces && k < (uint32_t)(FW_NUM_NODES + 4); k++) write_text(fd, "node", k, trace_nodes[k]);
          continue;
        }
        res[0] = (uint32_t)rc;
        res[1] = (uint32_t)r.exit_taken;
        res[2] = r.macs;
        put_record('R', res, 3u);
        sh_write(out_fd, out, FW_OUTPUT_SIZE);
#if FW_NUM_CONCEPTS > 0
        sh_write(out_fd, r.concepts, FW_NUM_CONCEPTS);
#endif
      }
    }
    if (fw_phase == 1) {
      low = stack_low();
      write_text(fd, "stack", (uint32_t)(uintptr_t)&__stack_top - low, sp_at_run - low);
      sh_close(fd);
    }
  }
  rec[0] = 'E';
  sh_write(out_fd, rec, 1u);
  sh_close(out_fd);
  return 0;
}

#endif /* FW_MORE_MODES */
