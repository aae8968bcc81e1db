/*
 * tb_insn_count.c - QEMU TCG plugin (plugin API v1, QEMU 7.x) for @tinyblocks/verify.
 *
 * Counts every guest instruction executed (an inline add on each instruction) and, each time
 * the instruction at the marker address (arg mark=0x..., the entry of the empty noinline
 * function tb_mark) executes, records the running total. At exit it writes the totals, one
 * decimal number a line, to the file named by arg out=PATH. Differences between consecutive
 * totals are the instructions executed between two marker calls, callees included. These are
 * executed instructions, not cycles.
 *
 * QEMU installs no plugin header on Debian, so the few v1 API functions used are declared here.
 * Build: gcc -shared -fPIC -O2 -o tb_insn_count.so tb_insn_count.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
typedef struct qemu_info_t qemu_info_t;

enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };

typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);

extern void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
extern size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
extern struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
extern uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
extern void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn, enum qemu_plugin_op op, void *ptr, uint64_t imm);
extern void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb, enum qemu_plugin_cb_flags flags, void *userdata);
extern void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

static uint64_t insns;     /* every instruction executed so far (single vCPU) */
static uint64_t mark_addr; /* entry of tb_mark (Thumb bit cleared) */
static uint64_t *marks;    /* running total at each marker call */
static size_t n_marks, cap_marks;
static char out_path[4096];

static void on_mark(unsigned int vcpu, void *udata) {
  (void)vcpu;
  (void)udata;
  if (n_marks == cap_marks) {
    cap_marks = cap_marks ? cap_marks * 2 : 4096;
    marks = realloc(marks, cap_marks * sizeof *marks);
    if (!marks) abort();
  }
  marks[n_marks++] = insns;
}

static void on_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  size_t n = qemu_plugin_tb_n_insns(tb), i;
  (void)id;
  for (i = 0; i < n; i++) {
    struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
    qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &insns, 1);
    if (mark_addr && (qemu_plugin_insn_vaddr(insn) & ~(uint64_t)1) == mark_addr) {
      qemu_plugin_register_vcpu_insn_exec_cb(insn, on_mark, QEMU_PLUGIN_CB_NO_REGS, NULL);
    }
  }
}

static void on_exit_cb(qemu_plugin_id_t id, void *udata) {
  FILE *f = out_path[0] ? fopen(out_path, "w") : stderr;
  size_t i;
  (void)id;
  (void)udata;
  if (!f) return;
  fprintf(f, "total %llu\n", (unsigned long long)insns);
  for (i = 0; i < n_marks; i++) fprintf(f, "%llu\n", (unsigned long long)marks[i]);
  if (f != stderr) fclose(f);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
  int i;
  (void)info;
  for (i = 0; i < argc; i++) {
    if (strncmp(argv[i], "mark=", 5) == 0) mark_addr = strtoull(argv[i] + 5, NULL, 0) & ~(uint64_t)1;
    else if (strncmp(argv[i], "out=", 4) == 0) {
      strncpy(out_path, argv[i] + 4, sizeof out_path - 1);
    } else {
      fprintf(stderr, "tb_insn_count: unknown argument '%s' (mark=0xADDR, out=PATH)\n", argv[i]);
      return -1;
    }
  }
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_trans);
  qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
  return 0;
}
