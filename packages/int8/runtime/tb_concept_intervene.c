/* tb_concept_intervene.c - see tb_concept_intervene.h. */
#include "tb_concept_intervene.h"

void tb_concept_intervene_s8(const int8_t *in, int8_t *out, int32_t k, const int8_t *low, const int8_t *high,
                             const int8_t *interventions) {
  int32_t i;
  for (i = 0; i < k; i++) {
    const int32_t iv = interventions != 0 ? interventions[i] : -1;
    out[i] = iv == 1 ? high[i] : (iv == 0 ? low[i] : in[i]);
  }
}
