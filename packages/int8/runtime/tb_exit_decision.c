/* tb_exit_decision.c - see tb_exit_decision.h and src/ops/exit-decision.ts. */
#include "tb_exit_decision.h"

int32_t tb_exit_decision_s8(const int8_t *logits, int32_t k, const int32_t *table, int32_t limit) {
  int32_t qmax = -128;
  int32_t sum = 0; /* <= k * 2^16 < 2^31 */
  int32_t i;
  for (i = 0; i < k; i++) {
    if (logits[i] > qmax) {
      qmax = logits[i];
    }
  }
  for (i = 0; i < k; i++) {
    sum += table[qmax - logits[i]];
  }
  return sum <= limit ? 1 : 0;
}
