/*
 * tb_exit_decision.h - the early-exit confidence rule (max softmax >= tau) on int8 logits,
 * bit-exact with src/ops/exit-decision.ts, which states the integer formulas.
 */
#ifndef TB_EXIT_DECISION_H
#define TB_EXIT_DECISION_H

#include <stdint.h>

/* 1 when sum_j table[max - logits[j]] <= limit (exit), else 0. k <= 32767. */
int32_t tb_exit_decision_s8(const int8_t *logits, int32_t k, const int32_t *table, int32_t limit);

#endif /* TB_EXIT_DECISION_H */
