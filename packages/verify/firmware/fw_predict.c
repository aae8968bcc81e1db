/*
 * fw_predict.c - @tinyblocks/verify predictions-only firmware main: per frame tb_mark, one
 * inference (full, or with early exits when FW_PREDICT_EXITS is 1), tb_mark, then its logits and
 * the exit taken (one int8: -1 = the final classifier) to FW_OUT_PATH; finally the stack
 * high-water marks to FW_COUNT_PATH ("stack a b").
 */
#include <stdint.h>
#include <string.h>
#include "fw_config.h"
#include "fw_io.h"

extern const int8_t fw_frames[FW_NUM_FRAMES][FW_INPUT_SIZE];
extern uint32_t __bss_end;
extern uint32_t __stack_top;

#ifndef FW_PREDICT_EXITS
#define FW_PREDICT_EXITS 0
#endif

static int8_t out[FW_OUTPUT_SIZE + 1];

static char line[40];

int main(void) {
  FW_OPTIONS opt;
  FW_RESULT r;
  const uint32_t *p = &__bss_end;
  uint32_t f, n, sp_at_run, low;
  int fd;
  fd = sh_open(FW_OUT_PATH);
  if (fd < 0) return 0x70;
  sp_at_run = current_sp();
  opt.exits = FW_PREDICT_EXITS;
  opt.concepts = 0;
  for (f = 0; f < FW_NUM_FRAMES; f++) {
    tb_mark();
    if (FW_RUN_EX(fw_frames[f], out, &opt, &r) != 0) fw_exit(0x72);
    tb_mark();
    out[FW_OUTPUT_SIZE] = (int8_t)r.exit_taken;
    sh_write(fd, out, FW_OUTPUT_SIZE + 1);
  }
  sh_close(fd);
  while (p < &__stack_top && *p == 0xDEADBEEFu) p++;
  low = (uint32_t)(uintptr_t)p;
  fd = sh_open(FW_COUNT_PATH);
  if (fd < 0) return 0x70;
  memcpy(line, "stack ", 6u);
  n = 6u + put_dec(line + 6, (uint32_t)(uintptr_t)&__stack_top - low);
  line[n++] = ' ';
  n += put_dec(line + n, sp_at_run - low);
  line[n++] = '\n';
  sh_write(fd, line, n);
  sh_close(fd);
  return 0;
}
